"""`effnet search coefficients BASELINE ...`: the paper's Step-1 grid for alpha, beta, gamma, then Step 2's family."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..experiments import study_baseline
from ..search import CoefficientSearch, run_coefficient_search
from ..search.coefficients import PRUNERS, REPORT
from .options import add_engine_options, add_proxy_options, positive_int, print_json, proxy_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help="searches: the Step-1 coefficient grid (and its family)")
    kinds = parser.add_subparsers(dest="search", required=True, metavar="SEARCH",
                                  help="coefficients: Step 1's grid and Step 2's family")
    coefficients = kinds.add_parser("coefficients", help="Step 1: grid-search alpha, beta, gamma at phi = 1; Step 2: "
                                    "the family phi = 1..N as spec files")
    coefficients.add_argument("baseline", metavar="BASELINE", help="registered name or spec file")
    coefficients.add_argument("--step", type=float, default=0.05, help="grid step of alpha, beta, gamma (default 0.05)")
    coefficients.add_argument("--min", dest="low", type=float, default=1.0, help="smallest value (default 1.0)")
    coefficients.add_argument("--max", dest="high", type=float, default=2.0, help="largest value (default 2.0)")
    coefficients.add_argument("--tolerance", type=float, default=0.1,
                              help="keep |alpha * beta^2 * gamma^2 - 2| <= this (default 0.1)")
    coefficients.add_argument("--family", type=positive_int, default=None,
                              help="also write the family phi = 1..N with the chosen coefficients (Step 2)")
    coefficients.add_argument("--prune", choices=PRUNERS, default="none",
                              help="stop weak candidates early with an Optuna pruner (default none: the full grid)")
    add_proxy_options(coefficients)
    add_engine_options(coefficients)
    coefficients.add_argument("--json", action="store_true", help="print coefficients.json instead of the report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    search = CoefficientSearch(study_baseline(args.baseline, proxy.resolution), step=args.step, low=args.low,
                               high=args.high, tolerance=args.tolerance, seeds=args.seeds, proxy=proxy,
                               family=args.family or 0, pruner=args.prune)
    data = run_coefficient_search(search, args.output, storage=args.storage, workers=args.workers,
                                  threads=args.threads, progress=not args.no_progress)
    if args.json:
        print_json(data)
    else:
        print((Path(args.output) / REPORT).read_text(), end="")
    return 0 if data["alpha"] is not None else 1
