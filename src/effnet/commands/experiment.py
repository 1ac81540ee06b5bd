"""`effnet experiment scaling|compare|convergence ...`: the paper's scaling study (Fig. 3 / 4 / 8, Table 7), networks
trained the same way, and the check that a proxy schedule is long enough -- on real data."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..architecture.budget import METHODS
from ..architecture.scaling import ALPHA, BETA, GAMMA, REPEAT_ROUNDINGS
from ..errors import InputError
from ..experiments import (
    Comparison,
    ScalingStudy,
    model_spec,
    parse_budgets,
    run_comparison,
    run_scaling_study,
    study_baseline,
)
from ..experiments.compare import FIGURE as COMPARE_FIGURE
from ..experiments.compare import REPORT as COMPARE_REPORT
from ..experiments.compare import RESULTS as COMPARE_RESULTS
from ..experiments.convergence import REPORT as CONVERGENCE_REPORT
from ..experiments.convergence import RESULTS as CONVERGENCE_RESULTS
from ..experiments.convergence import ConvergenceCheck, run_convergence_check
from ..experiments.scaling import BUDGET_METRICS
from ..experiments.scaling_report import FIGURES, REPORT, RESULTS
from ..outputs import printable
from . import SUMMARIES
from .options import positive_int
from .study_options import add_engine_options, add_proxy_options, engine_kwargs, proxy_from_args, run_study


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scaling method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    return names


def _epochs_list(text: str) -> tuple[int, ...]:
    values = []
    for part in text.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected epoch counts such as 2,4, got {text!r}") from None
        if not 1 <= value <= 100_000:
            raise argparse.ArgumentTypeError(f"an epoch count must be in 1..100000, got {value}")
        values.append(value)
    return tuple(values)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", help=SUMMARIES["experiment"])
    kinds = parser.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT",
                                  help="scaling: the scaling study; compare: networks trained the same way; "
                                  "convergence: is the proxy schedule long enough")
    scaling = kinds.add_parser("scaling", help="depth vs width vs resolution vs compound scaling at equal cost "
                               "(paper Fig. 3/4/8, Table 7)")
    scaling.add_argument("baseline", metavar="BASELINE", help="registered name or spec file, e.g. "
                         "efficientnet-b0-small")
    scaling.add_argument("--budgets", default="2x,4x", help="cost budgets as multiples of the baseline (default 2x,4x)")
    scaling.add_argument("--methods", type=_methods, default=METHODS,
                         help=f"comma-separated scaling methods (default {','.join(METHODS)})")
    scaling.add_argument("--budget-metric", choices=BUDGET_METRICS, default="macs",
                         help="size every method to the same MACs (default) or the same measured latency here")
    scaling.add_argument("--alpha", type=float, default=ALPHA, help=f"compound depth base (default {ALPHA})")
    scaling.add_argument("--beta", type=float, default=BETA, help=f"compound width base (default {BETA})")
    scaling.add_argument("--gamma", type=float, default=GAMMA, help=f"compound resolution base (default {GAMMA})")
    scaling.add_argument("--repeat-rounding", choices=REPEAT_ROUNDINGS, default="ceil",
                         help="how scaled repeats round: ceil (the paper's, default) or nearest (so compound scaling "
                         "does not turn into depth on stages of one block)")
    scaling.add_argument("--fidelities", type=_epochs_list, default=(), metavar="E1[,E2]",
                         help="also train every network at these schedule lengths (epochs) and report whether the "
                         "ranking and the verdicts hold (Kendall tau)")
    scaling.add_argument("--converged-within", type=_positive_float, default=0.5, metavar="POINTS",
                         help="a trial whose val top-1 rose more than this over its last quarter is flagged as still "
                         "improving (default 0.5)")
    scaling.add_argument("--extrapolate", metavar="BUDGET", help="after the study, predict each method's validation "
                         "top-1 at this larger budget (e.g. 8x) from its 1x-4x results, then train it there and "
                         "compare")
    scaling.add_argument("--extrapolate-methods", type=_methods, default=(),
                         help="methods to extrapolate (default: compound and the best single dimension)")
    scaling.add_argument("--extrapolate-seeds", type=positive_int, default=2,
                         help="seeds of the extrapolation's trainings (default 2)")
    scaling.add_argument("--grid", action="store_true",
                         help="also train width scaling under fixed (d, r) pairs (paper Fig. 4)")
    add_proxy_options(scaling)
    add_engine_options(scaling)
    scaling.add_argument("--json", action="store_true", help="print results.json instead of the report")
    scaling.set_defaults(func=run)
    compare = kinds.add_parser("compare", help="train several networks with the same schedule and seeds")
    compare.add_argument("models", nargs="+", metavar="MODEL",
                         help="registered names or spec files (e.g. a search's best.json); NAME=MODEL sets its label")
    compare.add_argument("--size-to", metavar="LABEL", help="first scale every other model to this one's MACs")
    compare.add_argument("--size-method", choices=METHODS, default="width",
                         help="how to scale to --size-to's MACs (default width: same input resolution)")
    add_proxy_options(compare)
    add_engine_options(compare)
    compare.add_argument("--json", action="store_true", help="print results.json instead of the report")
    compare.set_defaults(func=run_compare)
    convergence = kinds.add_parser("convergence", help="is the proxy long enough? the baseline at the proxy schedule "
                                   "and at twice it, paired by seed")
    convergence.add_argument("baseline", metavar="BASELINE", help="registered name or spec file")
    convergence.add_argument("--tolerance", type=_positive_float, default=0.5,
                             help="largest change of val top-1 (points) doubling may make (default 0.5)")
    convergence.add_argument("--factor", type=positive_int, default=2,
                             help="the longer schedule as a multiple of --epochs (default 2)")
    add_proxy_options(convergence)
    add_engine_options(convergence)
    convergence.add_argument("--json", action="store_true", help="print results.json instead of the report")
    convergence.set_defaults(func=run_convergence)


def run(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    study = ScalingStudy(study_baseline(args.baseline, proxy.resolution), budgets=parse_budgets(args.budgets),
                         methods=args.methods, seeds=args.seeds, proxy=proxy, alpha=args.alpha, beta=args.beta,
                         gamma=args.gamma, budget_metric=args.budget_metric, grid=args.grid,
                         repeat_rounding=args.repeat_rounding, fidelities=args.fidelities,
                         converged_within=args.converged_within,
                         extrapolate=parse_budgets(args.extrapolate)[0] if args.extrapolate else None,
                         extrapolate_methods=args.extrapolate_methods, extrapolate_seeds=args.extrapolate_seeds)
    return run_study(args, lambda: run_scaling_study(study, args.output, **engine_kwargs(args)), REPORT, RESULTS,
                     *FIGURES.values())


def run_convergence(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    check = ConvergenceCheck(study_baseline(args.baseline, proxy.resolution), proxy=proxy, seeds=args.seeds,
                             tolerance=args.tolerance, factor=args.factor)
    return run_study(args, lambda: run_convergence_check(check, args.output, **engine_kwargs(args)),
                     CONVERGENCE_REPORT, CONVERGENCE_RESULTS)


def run_compare(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    models = {}
    for item in args.models:
        label, _, source = item.rpartition("=") if "=" in item else (item, "", item)
        label = label if "=" in item else (Path(source).parent.name + "/" + Path(source).stem
                                           if Path(source).is_file() else source)
        if label in models:
            raise InputError(f"two models are labelled {printable(label)!r}; give each its own NAME=MODEL label")
        models[label] = model_spec(source, proxy.resolution)
    comparison = Comparison(models, seeds=args.seeds, proxy=proxy, size_to=args.size_to,
                            size_method=args.size_method)
    return run_study(args, lambda: run_comparison(comparison, args.output, **engine_kwargs(args)), COMPARE_REPORT,
                     COMPARE_RESULTS, COMPARE_FIGURE)
