"""Fashion-MNIST from scratch with a small compound-scaled EfficientNet on CPU (the longest honest run the
machine allows): params, MACs, epochs/steps, test accuracy, wall time. Needs Debian's dataset-fashion-mnist.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fashion_mnist.py --epochs 1 --phi -3 --resolution 32
An interrupted run continues exactly with `--resume` (same arguments); `wall_s` then covers the resumed part.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--phi", type=float, default=-3.0)
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
    options = {"phi": args.phi, "image_size": args.resolution}
    spec = resolve_spec("efficientnet", **options)
    stats = profile(spec, args.resolution, num_classes=10)
    output = Path(args.output)
    started = time.perf_counter()
    try:  # the trainer refuses an output that is a file or a link, or that holds a run without resume/overwrite
        recipe = load_recipe(args.recipe, parse_assignments(args.set))
        config = TrainConfig(model="efficientnet", model_options=options, data="fashion-mnist",
                             data_dir=args.data_dir, output=args.output, recipe=recipe, epochs=args.epochs,
                             batch_size=args.batch_size, limit_train=args.limit_train, workers=args.workers,
                             progress=sys.stderr.isatty(), device="cpu", seed=0, resume=args.resume,
                             overwrite=args.overwrite)
        summary = Trainer(config).fit()
    except USER_ERRORS as error:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(error).split())}\n")
    wall = time.perf_counter() - started
    rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
    result = {"model": spec.name, "phi": args.phi, "resolution": args.resolution, "params": stats.params,
              "macs": stats.macs, "recipe": args.recipe, "overrides": args.set, "epochs": args.epochs,
              "batch_size": args.batch_size, "workers": args.workers,
              "steps": summary["global_step"], "threads": args.threads, "test_top1": rows[-1]["val_top1"],
              "test_top1_ema": rows[-1]["ema_top1"], "best_top1": summary["best_top1"], "wall_s": round(wall, 1),
              "resumed": args.resume, "train_images_per_s": rows[-1]["images_per_s"], "epochs_rows": rows,
              "load_avg": os.getloadavg()}
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
