"""torchrun / DDP support: process-group setup from torchrun's environment, a resumable rank-blocked sampler,
and small collective helpers. One process (no torchrun) is simply world size 1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: str) -> DistInfo:
    """Join the process group torchrun describes (WORLD_SIZE > 1): NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        if device.startswith("cuda"):
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend)
    return DistInfo(rank, world, local)


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch of one run: distinct for every (seed, epoch) pair (with `seed + epoch`, seed 0's
    second epoch would repeat seed 1's first, and paired seeds would share data orders)."""
    return (int(seed) * 1_000_003 + int(epoch)) % (2**63)


def cleanup_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum a tensor over ranks (identity for one process)."""
    if info.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


class ResumableSampler(DistributedSampler):
    """A DistributedSampler for training that (1) drops the last incomplete *global* batch, (2) gives each rank a
    contiguous block of every global batch, so N ranks x batch b x accumulation a see exactly the micro-batches
    of 1 process x batch b x accumulation N*a, and (3) can start mid-epoch (`set_position`) for exact resume.

    The order of epoch e is a permutation drawn from a generator seeded with `epoch_seed(seed, e)`."""

    def __init__(self, dataset_len: int, micro_batch: int, accum: int, info: DistInfo, seed: int = 0,
                 shuffle: bool = True) -> None:
        super().__init__(range(dataset_len), num_replicas=info.world_size, rank=info.rank, shuffle=shuffle,
                         seed=seed, drop_last=True)
        self.dataset_len, self.per_rank = dataset_len, micro_batch * accum
        self.global_batch = self.per_rank * info.world_size
        self.steps_per_epoch = dataset_len // self.global_batch
        self.start = 0  # samples of this rank's epoch already consumed

    def set_position(self, epoch: int, start_step: int) -> None:
        """Start epoch `epoch` after `start_step` optimizer steps already taken in it."""
        self.set_epoch(epoch)
        self.start = start_step * self.per_rank

    def order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.dataset_len))
        generator = torch.Generator()
        generator.manual_seed(epoch_seed(self.seed, self.epoch))
        return torch.randperm(self.dataset_len, generator=generator).tolist()

    def __iter__(self) -> Iterator[int]:
        order = self.order()
        mine: list[int] = []
        for step in range(self.steps_per_epoch):
            begin = step * self.global_batch + self.rank * self.per_rank
            mine.extend(order[begin:begin + self.per_rank])
        return iter(mine[self.start:])

    def __len__(self) -> int:
        return self.steps_per_epoch * self.per_rank - self.start


class ShardSampler(torch.utils.data.Sampler):
    """Evaluation: rank r takes indices r, r+N, ... of the first `limit` items, no padding (no double counting)."""

    def __init__(self, length: int, info: DistInfo) -> None:
        self.indices = list(range(info.rank, length, info.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
