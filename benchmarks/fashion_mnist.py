"""Fashion-MNIST from scratch with a small EfficientNet on CPU (the longest honest run the machine allows): params,
MACs, epochs/steps, the per-epoch validation curve, test accuracy, wall time, and the saved weights' sha256. Needs
Debian's dataset-fashion-mnist.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fashion_mnist.py --epochs 1 --phi -3 --resolution 32
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fashion_mnist.py --model docs/results/full-size/baseline.json \
        --resolution 28 --epochs 100 --output runs/fmnist

With `--val-split holdout` (the default) the run trains on 50,000 images, validates on the 10,000 held out after
every epoch (the curve) and scores the test split once, after the last epoch, with the weights (the model's or
its EMA's) that did better on validation: the schedule is fixed beforehand and nothing is chosen on the test
split. `--val-split dataset` validates on the test split every epoch (the old protocol). An interrupted run
continues exactly with `--resume` (same arguments); `wall_s` then covers the resumed part, and `train_s` sums every
epoch's training time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import torch

from effnet.architecture.profiling import profile
from effnet.errors import USER_ERRORS
from effnet.hub.model_options import resolve_spec
from effnet.train import TrainConfig, Trainer, load_recipe, parse_assignments


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="efficientnet",
                        help="registered name or spec file (default: efficientnet scaled by --phi)")
    parser.add_argument("--phi", type=float, default=None, help="compound coefficient (default -3 for efficientnet)")
    parser.add_argument("--val-split", choices=("holdout", "dataset"), default="holdout")
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--recipe", default="small-data")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default="/tmp/effnet-fashion-bench")
    parser.add_argument("--limit-train", type=int, default=None)
    parser.add_argument("--resume", action="store_true", help="continue the run in --output (after an interruption)")
    parser.add_argument("--overwrite", action="store_true", help="start over in an --output that holds a run")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help="recipe override, e.g. warmup_epochs=0.1")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    phi = -3.0 if args.phi is None and args.model == "efficientnet" else args.phi
    options = {"image_size": args.resolution, **({"phi": phi} if phi is not None else {})}
    output = Path(args.output)
    started = time.perf_counter()
    try:  # the trainer refuses an output that is a file or a link, or that holds a run without resume/overwrite
        spec = resolve_spec(args.model, **options)
        stats = profile(spec, args.resolution, num_classes=10)
        recipe = load_recipe(args.recipe, parse_assignments(args.set))
        config = TrainConfig(model=args.model, model_options=options, data="fashion-mnist", val_split=args.val_split,
                             data_dir=args.data_dir, output=args.output, recipe=recipe, epochs=args.epochs,
                             batch_size=args.batch_size, limit_train=args.limit_train, workers=args.workers,
                             progress=sys.stderr.isatty(), device="cpu", seed=0, resume=args.resume,
                             overwrite=args.overwrite)
        summary = Trainer(config).fit()
    except USER_ERRORS as error:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(error).split())}\n")
    wall = time.perf_counter() - started
    if summary["status"] == "interrupted":  # checkpointed: `--resume` continues it; no result for a partial run
        print(f"interrupted by {summary['signal']} at step {summary['global_step']}; continue with --resume",
              file=sys.stderr)
        return 130
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    last = rows[-1]
    holdout = args.val_split == "holdout"
    scored = last.get("test_weights") or "model"  # the weights that did better on validation: model or EMA
    weights = output / ("pretrained-ema" if scored == "ema" else "pretrained") / "model.safetensors"
    result = {"model": spec.name, "source": args.model, "phi": phi, "resolution": args.resolution,
              "params": stats.params, "macs": stats.macs, "recipe": args.recipe, "overrides": args.set,
              "epochs": args.epochs, "batch_size": args.batch_size, "workers": args.workers,
              "val_split": args.val_split, "steps": summary["global_step"], "threads": args.threads,
              "test_top1": last.get("test_top1") if holdout else last["val_top1"],
              "test_top1_ema": None if holdout else last["ema_top1"],  # holdout: one test score, of `test_weights`
              "test_weights": scored if holdout else "model", "val_top1_ema": last["ema_top1"] if holdout else None,
              "val_top1": last["val_top1"] if holdout else None, "wall_s": round(wall, 1),
              "train_s": round(sum(r.get("train_seconds") or 0.0 for r in rows), 1), "resumed": args.resume,
              "train_images_per_s": last["images_per_s"],
              "weights": _shown(weights), "weights_sha256": sha256(weights) if weights.is_file() else None,
              "curve": [{k: r.get(k) for k in ("epoch", "val_top1", "ema_top1", "val_loss", "train_loss", "lr",
                                               "train_seconds")} for r in rows],
              "load_avg": os.getloadavg()}
    print(json.dumps(result, indent=2))
    return 0


def _shown(path: Path) -> str:
    """The path relative to the working directory when it lies beneath it (a result committed from a checkout then
    names the file in any clone), absolute otherwise."""
    absolute = path.resolve()
    return str(absolute.relative_to(Path.cwd())) if absolute.is_relative_to(Path.cwd()) else str(absolute)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


if __name__ == "__main__":
    sys.exit(main())
