"""How long a new process takes to answer "how many parameters has EfficientNet-B0?": effnet's CLI and Python API
against timm's and torchvision's, each a fresh interpreter, in turn (A B C A B C ...) so that a drifting machine
loads every contender alike; `import torch` alone is the floor all of them share. Medians of wall seconds, and each
contender's ratio to effnet's CLI, run by run; `effnet --help` (the listing a new user starts with) beside them.

    .venv/bin/python benchmarks/startup.py [--runs 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

from effnet.errors import OutputError
from effnet.outputs import atomic_path, check_output

_PARAMS = "print(sum(p.numel() for p in model.parameters()))"
CONTENDERS = {
    "effnet CLI (effnet info)": [sys.executable, "-m", "effnet", "info", "efficientnet-b0"],
    "effnet CLI (effnet --help, the command listing)": [sys.executable, "-m", "effnet", "--help"],
    "effnet API (create_model)": [sys.executable, "-c",
                                  f"import effnet; model = effnet.create_model('efficientnet-b0'); {_PARAMS}"],
    "timm (create_model)": [sys.executable, "-c",
                            f"import timm; model = timm.create_model('efficientnet_b0'); {_PARAMS}"],
    "torchvision (efficientnet_b0)": [sys.executable, "-c",
                                      f"from torchvision.models import efficientnet_b0; model = efficientnet_b0(); "
                                      f"{_PARAMS}"],
    "import torch (the floor)": [sys.executable, "-c", "import torch"],
}
REFERENCE = "effnet CLI (effnet info)"


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    args = parser.parse_args()
    if args.json:
        try:
            check_output(args.json, overwrite=args.overwrite)
        except OutputError as error:
            parser.exit(2, f"{parser.prog}: error: {error}\n")
    for command in CONTENDERS.values():  # warm-up: the files each one reads are in the page cache afterwards
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    for _ in range(args.runs):
        for name, command in CONTENDERS.items():
            times[name].append(_seconds(command))
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {os.getloadavg()[0]:.2f}, {args.runs} runs each after one warm-up\n")
    print("| contender | median s | min s | ratio to effnet's CLI (median of run pairs) |\n|---|---|---|---|")
    rows = []
    for name, seconds in times.items():
        ratio = statistics.median(a / b for a, b in zip(seconds, times[REFERENCE], strict=True))
        rows.append({"contender": name, "median_s": statistics.median(seconds), "min_s": min(seconds),
                     "ratio_to_effnet_cli": ratio, "seconds": seconds})
        print(f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | {ratio:.2f} |")
    if args.json:
        with atomic_path(args.json) as temp:
            temp.write_text(json.dumps({"rows": rows, "runs": args.runs}, indent=2))


if __name__ == "__main__":
    main()
