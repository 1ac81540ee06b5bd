"""`effnet profile NAME`: per-stage params, MACs (multiply-adds) and activations, after optional scaling."""

from __future__ import annotations

import argparse

from ..architecture.profiling import analyze
from ..hub.model_options import resolve_spec
from . import SUMMARIES
from .options import add_scaling_options, print_json, scaling_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("profile", help=SUMMARIES["profile"])
    parser.add_argument("model", metavar="MODEL", help="registered name (e.g. efficientnet-b0, resnet50) or spec file")
    add_scaling_options(parser)
    parser.add_argument("--num-classes", type=int, default=1000, dest="num_classes",
                        help="classifier outputs counted (default 1000)")
    parser.add_argument("--json", action="store_true", help="print the profile as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = resolve_spec(args.model, **scaling_kwargs(args))
    result = analyze(spec, num_classes=args.num_classes)
    if args.json:
        print_json(result.to_dict())
    else:
        print(result.table())
    return 0
