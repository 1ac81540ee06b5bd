"""The trainer's overhead: images/s of `effnet train` on the small-image baseline against a bare PyTorch training
step on pre-made tensors (same model, batch, optimizer, threads, memory format), interleaved round by round.

The bare loop is the floor: batches already normalised in memory, forward, loss, backward, AdamW step. The trainer
adds everything a real run has: reading the dataset, per-sample seeded augmentation (random-resized crop, flip,
random erasing), collation, label smoothing, the LR schedule, EMA, loss bookkeeping and progress. Goal: within
10%. Run: .venv/bin/python benchmarks/trainer_overhead.py [--resolution 28] [--rounds 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import effnet
from effnet.outputs import atomic_path, check_output
from effnet.train import TrainConfig, Trainer, load_recipe, param_groups


def bare_images_per_s(spec: effnet.NetSpec, images: int, batch: int, seed: int) -> float:
    """A plain training loop on tensors made beforehand: the fastest a step can go."""
    torch.manual_seed(seed)
    model = effnet.build(spec, num_classes=10).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.AdamW(param_groups(model, 0.05), lr=1e-3)
    data = torch.randn(batch, 3, spec.resolution, spec.resolution).contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 10, (batch,))
    steps = images // batch
    start = time.perf_counter()
    for _ in range(steps):
        loss = F.cross_entropy(model(data), targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    return steps * batch / (time.perf_counter() - start)


def trainer_images_per_s(spec: effnet.NetSpec, images: int, batch: int, seed: int, data_dir: str | None) -> float:
    """`effnet train`'s own figure (images / training seconds, validation excluded) for one epoch."""
    with tempfile.TemporaryDirectory(prefix="effnet-overhead-") as folder:
        config = TrainConfig(model=spec, data="fashion-mnist", data_dir=data_dir, output=str(Path(folder) / "run"),
                             recipe=load_recipe("small-data"), epochs=1, batch_size=batch, limit_train=images,
                             limit_val=batch, seed=seed, progress=False, save_pretrained=False)
        trainer = Trainer(config)
        trainer.fit()
        row = trainer.history[-1]
        return row["images_per_s"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=28, help="input size (default 28, Fashion-MNIST's)")
    parser.add_argument("--images", type=int, default=1536, help="training images per measurement (default 1536)")
    parser.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--data-dir", help="Fashion-MNIST's folder (default: Debian's)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace --json if it exists")
    args = parser.parse_args()
    if args.json:
        try:
            check_output(args.json, overwrite=args.overwrite)
        except effnet.InputError as error:
            print(f"trainer_overhead: error: {error}", file=sys.stderr)
            return 2
    torch.set_num_threads(args.threads)
    spec = effnet.get_spec("efficientnet-b0-small").replace(resolution=args.resolution)
    print(f"{spec.name} at {args.resolution} px ({effnet.profile(spec, num_classes=10).macs / 1e6:.1f} M MACs), "
          f"batch {args.batch}, {args.images} images per measurement, {args.threads} thread(s), torch "
          f"{torch.__version__}")
    bare_images_per_s(spec, args.batch * 2, args.batch, 0)  # warm-up: oneDNN primitives, allocator
    rows = []
    for index in range(args.rounds):
        bare = bare_images_per_s(spec, args.images, args.batch, index)
        ours = trainer_images_per_s(spec, args.images, args.batch, index, args.data_dir)
        rows.append({"round": index + 1, "bare_images_per_s": round(bare, 2), "trainer_images_per_s": round(ours, 2),
                     "ratio": round(ours / bare, 4)})
        print(f"round {index + 1}: bare step {bare:7.2f} img/s   effnet trainer {ours:7.2f} img/s   "
              f"trainer / bare {ours / bare:.3f}")
    ratios = sorted(row["ratio"] for row in rows)
    median = ratios[len(ratios) // 2]
    print(f"median trainer / bare: {median:.3f} (goal >= 0.90: {'met' if median >= 0.9 else 'NOT met'})")
    if args.json:
        with atomic_path(args.json) as temp:
            temp.write_text(json.dumps({"rows": rows, "median_ratio": median, "resolution": args.resolution,
                                        "batch": args.batch, "threads": args.threads}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
