"""`effnet bench MODEL...`: paper Table 4 latency (batch 1, N threads, warm-up, median and IQR of >= 20 runs),
optionally next to timm / torchvision's same architectures (`--compare timm,torchvision`)."""

from __future__ import annotations

import argparse
import sys

from ..deploy.bench import PEER_LIBRARIES, RUNTIMES, bench, format_table, missing_peers, rows_to_dicts
from . import SUMMARIES
from .options import positive_int, print_json


def _libraries(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in PEER_LIBRARIES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown peer library {unknown[0]!r}; choose from "
                                         f"{', '.join(PEER_LIBRARIES)}")
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help=SUMMARIES["bench"])
    parser.add_argument("models", nargs="+", metavar="MODEL", help="registered model names or spec files")
    parser.add_argument("--resolution", type=positive_int, help="input size (default: each model's own)")
    parser.add_argument("--threads", type=positive_int, default=1, help="CPU threads (default 1, as the paper)")
    parser.add_argument("--runs", type=positive_int, default=20, help="timed runs (default 20, the paper's count)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed warm-up runs (default 3)")
    parser.add_argument("--compare", type=_libraries, default=[],
                        help="also time the same architecture in timm,torchvision (when installed)")
    parser.add_argument("--runtime", choices=sorted(RUNTIMES), default="torch",
                        help="torch, or onnxruntime (each model exported to ONNX and verified first)")
    parser.add_argument("--no-optimize", action="store_true",
                        help="time effnet's plain eager model instead of its inference path (BN folded, channels-last)")
    parser.add_argument("--json", action="store_true", help="print rows as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for note in missing_peers(args.models, args.compare):
        print(f"effnet: note: {note}", file=sys.stderr)
    rows = bench(args.models, resolution=args.resolution, threads=args.threads, runs=args.runs,
                 warmup=args.warmup, compare=args.compare, runtime=args.runtime, optimize=not args.no_optimize)
    if args.json:
        print_json(rows_to_dicts(rows))
    else:
        print(format_table(rows))
    return 0
