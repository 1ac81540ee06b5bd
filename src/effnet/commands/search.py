"""`effnet search coefficients BASELINE ...`: the paper's Step-1 grid for alpha, beta, gamma, then Step 2's family."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..architecture.budget import parse_budget
from ..architecture.scaling import REPEAT_ROUNDINGS
from ..errors import InputError
from ..experiments import study_baseline
from ..search import ArchitectureSearch, CoefficientSearch, SearchSpace, run_architecture_search, run_coefficient_search
from ..search.architecture import BEST, CANDIDATES, COSTS, PARETO, SAMPLERS, TRAJECTORY
from ..search.architecture import REPORT as ARCHITECTURE_REPORT
from ..search.coefficients import COEFFICIENTS, FIGURE, PRUNERS, REPORT
from . import SUMMARIES
from .options import non_negative_int, positive_int
from .study_options import add_engine_options, add_proxy_options, engine_kwargs, proxy_from_args, run_study


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("search", help=SUMMARIES["search"])
    kinds = parser.add_subparsers(dest="search", required=True, metavar="SEARCH",
                                  help="coefficients: Step 1's grid and Step 2's family; architecture: a baseline "
                                  "search in MnasNet's space")
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
    coefficients.add_argument("--family-seeds", type=non_negative_int, default=0, metavar="N",
                              help="Step 2's comparison: train the family against the paper's coefficients at each "
                                   "phi with N fresh seeds, paired (default 0: spec files only)")
    coefficients.add_argument("--prune", choices=PRUNERS, default="none",
                              help="stop weak candidates early with an Optuna pruner over each trial's validation "
                              "points: median, halving (successive halving) or hyperband (default none: the full "
                              "grid)")
    coefficients.add_argument("--confirm", type=non_negative_int, default=3, metavar="K",
                              help="train the K best candidates again with fresh seeds and choose among them "
                              "(default 3; 0: choose on the grid)")
    coefficients.add_argument("--confirm-seeds", type=positive_int, default=3, metavar="N",
                              help="seeds of the confirm phase (default 3)")
    coefficients.add_argument("--repeat-rounding", choices=REPEAT_ROUNDINGS, default="ceil",
                              help="how scaled repeats round: ceil (the paper's, default) or nearest")
    add_proxy_options(coefficients)
    add_engine_options(coefficients)
    coefficients.add_argument("--json", action="store_true", help="print coefficients.json instead of the report")
    coefficients.set_defaults(func=run)
    architecture = kinds.add_parser("architecture", help="multi-objective architecture search in MnasNet's space "
                                    "(reward ACC x (cost/T)^w)")
    architecture.add_argument("--reference", default="efficientnet-b0-small",
                              help="the network whose stages the space perturbs (default efficientnet-b0-small)")
    architecture.add_argument("--target-macs", help="T for --cost macs, e.g. 20M (MACs at the proxy resolution)")
    architecture.add_argument("--target-latency", type=float, help="T for --cost latency, in ms (batch 1, 1 thread)")
    architecture.add_argument("--cost", choices=COSTS, default="macs",
                              help="cost in the reward: multiply-adds (default) or latency measured here")
    architecture.add_argument("--weight", type=float, default=-0.07, help="the reward's exponent w (default -0.07)")
    architecture.add_argument("--trials", type=positive_int, default=20, help="candidates to evaluate (default 20)")
    architecture.add_argument("--sampler", choices=SAMPLERS, default="evolution",
                              help="random search, NSGA-II (accuracy vs cost), or aging evolution (default)")
    architecture.add_argument("--population", type=positive_int, default=8,
                              help="population of NSGA-II / aging evolution (default 8)")
    architecture.add_argument("--seed", type=int, default=0, help="the sampler's seed (default 0)")
    architecture.add_argument("--prune", action="store_true",
                              help="stop weak candidates early by their reward after each epoch (median pruner)")
    architecture.add_argument("--no-reference", action="store_true",
                              help="do not evaluate the reference itself as the first candidate")
    architecture.add_argument("--confirm", type=non_negative_int, default=3, metavar="K",
                              help="train the K best candidates again with fresh seeds and choose among them by mean "
                              "reward (default 3; 0: the search's best)")
    architecture.add_argument("--confirm-seeds", type=positive_int, default=3, metavar="N",
                              help="seeds of the confirm phase (default 3)")
    add_proxy_options(architecture)
    add_engine_options(architecture)
    architecture.add_argument("--json", action="store_true", help="print candidates.json instead of the report")
    architecture.set_defaults(func=run_architecture)


def run(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    search = CoefficientSearch(study_baseline(args.baseline, proxy.resolution), step=args.step, low=args.low,
                               high=args.high, tolerance=args.tolerance, seeds=args.seeds, proxy=proxy,
                               family=args.family or 0, family_seeds=args.family_seeds, pruner=args.prune,
                               confirm=args.confirm, confirm_seeds=args.confirm_seeds,
                               repeat_rounding=args.repeat_rounding)
    code = run_study(args, lambda: run_coefficient_search(search, args.output, **engine_kwargs(args)), REPORT,
                     COEFFICIENTS, FIGURE)
    return code if code else (0 if _chosen(Path(args.output) / COEFFICIENTS) else 1)


def run_architecture(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    space = SearchSpace(study_baseline(args.reference, proxy.resolution))
    if args.cost == "macs":
        if args.target_macs is None:
            raise InputError("--cost macs needs --target-macs, e.g. --target-macs 20M")
        target = parse_budget(args.target_macs, 0)
    else:
        if args.target_latency is None or not args.target_latency > 0:
            raise InputError("--cost latency needs --target-latency MS (a positive number of milliseconds)")
        target = args.target_latency
    search = ArchitectureSearch(space, target, cost=args.cost, weight=args.weight, trials=args.trials,
                                sampler=args.sampler, population=args.population, seeds=args.seeds, proxy=proxy,
                                seed=args.seed, prune=args.prune, include_reference=not args.no_reference,
                                confirm=args.confirm, confirm_seeds=args.confirm_seeds)
    code = run_study(args, lambda: run_architecture_search(search, args.output, **engine_kwargs(args)),
                     ARCHITECTURE_REPORT, CANDIDATES, BEST, PARETO, TRAJECTORY)
    return code if code else (0 if (Path(args.output) / BEST).is_file() else 1)


def _chosen(path: Path) -> bool:
    """Whether the coefficient search wrote a choice."""
    try:
        return json.loads(path.read_text()).get("alpha") is not None
    except (OSError, ValueError):
        return False
