"""What a training run is: `TrainConfig` (what to train on what, and where; its `recipe` says how) and the checks
and choices made from it before any work -- contradictory options, device, mixed precision, memory format."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..architecture.zoo import SpecSource
from ..data import VAL_SPLITS
from ..errors import InputError, OutputError
from .recipe import PRESETS, Recipe

# What a run writes into its folder (train.state writes the first three; the trainer the rest at the end).
MAX_VAL_POINTS = 1000  # validation points per run (each one is a pass over the validation images)
RUN_FILES = ("last.pt", "best.pt", "metrics.jsonl", "pretrained", "pretrained-ema", "tensorboard")


class TrainingDiverged(RuntimeError):
    """The loss, the weights or the BatchNorm statistics became unusable; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """What to train on what, and where; `recipe` says how. `model` is a registered name or a spec file.
    `batch_size` is per process and micro-batch: the global batch is batch_size x accum_steps x world size (the
    lr scales with it)."""

    model: SpecSource = "efficientnet-b0"
    model_options: dict[str, Any] = field(default_factory=dict)
    data: str = "fashion-mnist"
    data_dir: str | None = None
    output: str = "runs/effnet"
    recipe: Recipe = field(default_factory=lambda: PRESETS["paper"])
    epochs: int | None = None
    batch_size: int | None = None
    max_steps: int | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    seed: int = 0
    resume: bool | str = False
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    accum_steps: int = 1
    workers: int = 0
    on_bad_image: str = "skip"
    sync_bn: bool = False
    pretrained: bool = False
    weights: str | None = None
    freeze_backbone: bool = False
    freeze_bn: bool = False
    num_classes: int | None = None
    progress: bool = True
    save_pretrained: bool = True
    tensorboard: bool = False
    overwrite: bool = False
    validate: str = "every"  # "every" epoch, or only the "last" (short proxy runs of a study)
    val_points: int = 0  # also validate at this many evenly spread steps (a learning curve for short runs)
    val_split: str = "dataset"  # validate on the dataset's own split, or a fixed "holdout" (then test once)
    limit_test: int | None = None  # score only the first N test images (smoke runs; a result needs them all)
    threads: int | None = None  # CPU threads; None: `default_threads` (1 for small images, where it is faster)


def check_options(config: TrainConfig) -> None:
    """Reject contradictory or impossible option combinations before any work (one-line errors)."""
    if config.pretrained and config.weights:
        raise InputError("pretrained weights and a weights file contradict each other; pass one")
    if config.resume and (config.pretrained or config.weights):
        raise InputError("resuming restores the weights from the checkpoint; do not also pass pretrained or weights")
    if (config.freeze_backbone or config.freeze_bn) and not (config.pretrained or config.weights or config.resume):
        raise InputError("freezing the backbone or BatchNorm needs pretrained weights or a weights file")
    for name in ("max_steps", "limit_train", "limit_val", "limit_test", "epochs", "batch_size", "num_classes"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InputError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
    if isinstance(config.accum_steps, bool) or not isinstance(config.accum_steps, int) or \
            not 1 <= config.accum_steps <= 4096:
        raise InputError(f"accum-steps must be an integer in [1, 4096], got {config.accum_steps!r}")
    if isinstance(config.workers, bool) or not isinstance(config.workers, int) or not 0 <= config.workers <= 64:
        raise InputError(f"workers (data-loader processes) must be an integer in [0, 64], got {config.workers!r}")
    if config.validate not in ("every", "last"):
        raise InputError(f"validate must be every or last, got {config.validate!r}")
    if config.val_split not in VAL_SPLITS:
        raise InputError(f"val-split must be one of {', '.join(VAL_SPLITS)}, got {config.val_split!r}")
    if isinstance(config.val_points, bool) or not isinstance(config.val_points, int) or \
            not 0 <= config.val_points <= MAX_VAL_POINTS:
        raise InputError(f"val-points must be an integer in [0, {MAX_VAL_POINTS}], got {config.val_points!r}")
    if config.on_bad_image not in ("skip", "fail"):
        raise InputError(f"on-bad-image must be skip or fail, got {config.on_bad_image!r}")
    if config.threads is not None and (isinstance(config.threads, bool) or not isinstance(config.threads, int)
                                       or not 1 <= config.threads <= 256):
        raise InputError(f"threads must be an integer in [1, 256], got {config.threads!r}")
    if not isinstance(config.recipe, Recipe):
        raise InputError("the training config's recipe must be a Recipe (see effnet.train.load_recipe)")
    output = Path(config.output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} is a file, not a run folder")
    if output.is_symlink():
        raise InputError(f"output {output} is a symbolic link; refusing to write through it")
    _check_inputs(config, output)


def _check_inputs(config: TrainConfig, output: Path) -> None:
    """The run folder must not be the data, and a fresh run must not replace the files it starts from (a model
    or weights inside the run's own last.pt, best.pt, pretrained/ ...): starting over deletes them."""
    for name in (config.data, config.data_dir):
        if name is not None and Path(name).is_dir() and output.resolve().is_relative_to(Path(name).resolve()):
            raise OutputError(f"output {output} is inside the data folder {name} (a run's files there would become "
                              "part of the dataset); choose another run folder")
    if not output.is_dir():
        return
    if config.resume:
        return
    sources = [Path(source) for source in (config.model, config.weights)
               if isinstance(source, (str, os.PathLike)) and Path(source).exists()]
    for name in RUN_FILES:
        written = output / name
        for source in sources:
            if written.exists() and (os.path.samefile(source, written)
                                     or source.resolve().is_relative_to(written.resolve())):
                raise OutputError(f"{source} is an input of this run but also {name} of its output folder "
                                  f"{output}, which a new run replaces; choose another run folder")


def resolve_device(name: str) -> torch.device:
    """`auto` (CUDA when available), `cpu`, `cuda[:N]` or `mps`; a one-line error for anything unavailable."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise InputError(f"unknown device {name!r}; use cpu, cuda or auto")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("a CUDA device was asked for but none is available")
    try:
        return torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use cpu, cuda or auto") from None


SMALL_IMAGES = 64  # px: at or below it, one thread trains faster than two on a 2-core CPU


def default_threads(device: torch.device, input_size: int) -> int:
    """CPU threads for training when none are asked for: one for small images -- the small-image baseline trained
    at 72 images/s with one thread and 48 with two on our 2-core CPU, and a loaded machine makes two threads far
    worse (issue 21) -- and PyTorch's own default (every core) otherwise."""
    if device.type == "cpu" and input_size <= SMALL_IMAGES:
        return 1
    return torch.get_num_threads()


def default_channels_last(device: torch.device | str) -> bool:
    """Channels-last is the default on CPU and CUDA: oneDNN's CPU convolutions and cuDNN's tensor-core kernels
    both prefer NHWC (EfficientNet-B0 trains 1.3-2.5x faster on CPU; BENCHMARKS.md)."""
    return torch.device(device).type in ("cpu", "cuda")


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for `amp` (auto, bf16, fp16, off) on `device`; CPU training runs in fp32."""
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise InputError(f"amp must be auto, bf16, fp16 or off, got {amp!r}")
    if device.type != "cuda":
        if amp in ("bf16", "fp16"):
            raise InputError(f"amp {amp} needs a CUDA device; CPU training runs in fp32")
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


__all__ = ["SMALL_IMAGES", "TrainConfig", "TrainingDiverged", "amp_dtype", "check_options", "default_channels_last",
           "default_threads",
           "resolve_device"]
