"""Issue 4 benchmark: fine-tuning the real pretrained Lite0 on Fashion-MNIST vs training it from scratch, equal
epochs and data, through the public CLI. Prints the last metrics row of each run.

    .venv/bin/python benchmarks/finetune_vs_scratch.py [--epochs 2] [--limit-train 6000] [--resolution 64] [--keep DIR]

`--keep DIR` keeps each run's output folder (checkpoints, metrics, save_pretrained) under DIR.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {
    "finetune (pretrained Lite0, recipe finetune)": ["finetune", "--pretrained"],
    "scratch (recipe small-data)": ["train", "--recipe", "small-data"],
    "scratch (recipe finetune)": ["train", "--recipe", "finetune"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--limit-train", type=int, default=6000)
    parser.add_argument("--limit-val", type=int, default=2000)
    parser.add_argument("--keep", help="keep the run folders under this directory")
    args = parser.parse_args()
    if args.keep:  # checked before any run: effnet train would refuse a folder that holds a run, halfway through
        keep = Path(args.keep)
        if keep.exists() and not keep.is_dir():
            parser.exit(2, f"{parser.prog}: error: --keep {keep} is a file, not a folder\n")
        held = [keep / f"run{index}" for index in range(len(RUNS)) if (keep / f"run{index}" / "last.pt").exists()
                or (keep / f"run{index}" / "metrics.jsonl").exists()]
        if held:
            parser.exit(2, f"{parser.prog}: error: {held[0]} already holds a run; choose another --keep folder\n")
    common = ["--model", "efficientnet-lite0", "--data", "fashion-mnist", "--epochs", str(args.epochs),
              "--batch-size", str(args.batch_size), "--resolution", str(args.resolution),
              "--limit-train", str(args.limit_train), "--limit-val", str(args.limit_val), "--no-progress"]
    print("| run | epochs | train images | val images | val top-1 | EMA top-1 | wall s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or scratch
        for index, (name, command) in enumerate(RUNS.items()):
            output = Path(root) / f"run{index}"
            start = time.time()
            subprocess.run([sys.executable, "-m", "effnet", *command, *common, "--output", str(output)],
                           check=True, stdout=subprocess.DEVNULL)
            rows = [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines()]
            last = rows[-1]
            print(f"| {name} | {last['epoch']} | {args.limit_train} | {args.limit_val} | {last['val_top1']:.2f}% "
                  f"| {last.get('ema_top1') or float('nan'):.2f}% | {time.time() - start:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
