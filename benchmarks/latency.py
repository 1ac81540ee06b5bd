"""Paper Table 4 analog on this machine: batch 1, one CPU thread, warm-up, median of >= 20 timed runs, for
EfficientNet-B0, B1, Lite0, ResNet-50 and ResNet-152, each as effnet, timm and torchvision build it (random
weights) in the same run. Prints the table and the B1-vs-ResNet-152 speedup next to the paper's 5.7x.

    .venv/bin/python benchmarks/latency.py [--runs 20] [--warmup 3] [--threads 1] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from effnet.architecture.profiling import analyze
from effnet.architecture.zoo import get_spec
from effnet.deploy.bench import bench, format_table, rows_to_dicts
from effnet.errors import OutputError
from effnet.outputs import atomic_path, check_output

MODELS = ("efficientnet-b0", "efficientnet-b1", "efficientnet-lite0", "resnet50", "resnet152")
PAPER_SPEEDUP = 5.7  # Table 4: ResNet-152 0.554 s vs EfficientNet-B1 0.098 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = parser.parse_args()
    if args.json:
        try:
            check_output(args.json, overwrite=args.overwrite)
        except OutputError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
    torch.manual_seed(0)
    start = time.perf_counter()
    rows = bench(MODELS, threads=args.threads, runs=args.runs, warmup=args.warmup, compare=("timm", "torchvision"))
    elapsed = time.perf_counter() - start
    print(f"torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{args.threads} thread(s), {args.runs} runs after {args.warmup} warm-up, {elapsed:.0f}s")
    print(format_table(rows))
    median = {(r.model, r.library): r.median_ms for r in rows}
    print(f"\nB1 vs ResNet-152 speedup (paper Table 4: {PAPER_SPEEDUP}x; MACs ratio "
          f"{analyze(get_spec('resnet152')).macs / analyze(get_spec('efficientnet-b1')).macs:.1f}x):")
    for library in ("effnet", "timm", "torchvision"):
        if ("efficientnet-b1", library) in median and ("resnet152", library) in median:
            speedup = median[("resnet152", library)] / median[("efficientnet-b1", library)]
            print(f"  {library:<12} {speedup:.2f}x")
    if args.json:
        with atomic_path(args.json) as temp:
            temp.write_text(json.dumps({"rows": rows_to_dicts(rows), "seconds": elapsed}, indent=2))


if __name__ == "__main__":
    main()
