"""`effnet info NAME`: the stage table (like paper Table 1) after optional scaling."""

from __future__ import annotations

import argparse

from ..build import count_params
from ..models import resolve_spec
from .options import add_scaling_options, scaling_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("info", help="show a model's stage table (paper Table 1 form)")
    parser.add_argument("model", help="registered model name, e.g. efficientnet-b0")
    add_scaling_options(parser)
    parser.add_argument("--json", action="store_true", help="print the spec as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    spec = resolve_spec(args.model, **scaling_kwargs(args))
    if args.json:
        print(spec.to_json())
        return 0
    d, w, r = spec.coefficients
    print(f"{spec.name}  (depth x{d:g}, width x{w:g}, resolution x{r:g}; input {spec.resolution}px, "
          f"act {spec.act}, dropout {spec.dropout:g})")
    print(f"{'stage':>5}  {'operator':<26}{'resolution':>11}{'channels':>10}{'layers':>8}")
    for row in spec.table():
        size = f"{row['resolution']}x{row['resolution']}"
        print(f"{row['stage']:>5}  {row['operator']:<26}{size:>11}{row['channels']:>10}{row['layers']:>8}")
    params = count_params(spec)
    print(f"parameters: {params:,}")
    return 0
