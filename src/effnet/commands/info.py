"""`effnet info NAME`: the stage table (like paper Table 1) after optional scaling."""

from __future__ import annotations

import argparse

from ..architecture.profiling import analyze
from ..hub.model_options import resolve_model
from . import SUMMARIES
from .options import add_scaling_options, print_json, scaling_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help=SUMMARIES["info"])
    parser.add_argument("model", metavar="MODEL", help="registered name (e.g. efficientnet-b0, resnet50) or spec file")
    add_scaling_options(parser)
    parser.add_argument("--json", action="store_true", help="print the spec as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec, training = resolve_model(args.model, **scaling_kwargs(args))
    if args.json:
        print_json(spec.to_dict())  # a spec's free-form `extra` values may hold NaN, which JSON cannot
        return 0
    d, w, r = spec.coefficients
    print(f"{spec.name}  (depth x{d:g}, width x{w:g}, resolution x{r:g}; input {spec.resolution}px, "
          f"act {spec.act}; trains with dropout {training.dropout:g} by default)")
    print(f"{'stage':>5}  {'operator':<26}{'resolution':>11}{'channels':>10}{'layers':>8}")
    profile = analyze(spec)
    for index, row in enumerate(profile.rows, start=1):
        size = f"{row.in_size}x{row.in_size}"
        print(f"{index:>5}  {row.operator:<26}{size:>11}{row.channels:>10}{row.repeats:>8}")
    print(f"parameters: {profile.params:,}   multiply-adds: {profile.macs / 1e9:.3f}G")
    return 0
