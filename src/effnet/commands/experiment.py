"""`effnet experiment scaling BASELINE ...`: the paper's scaling study (Fig. 3 / 4 / 8, Table 7) on real data."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..budget import METHODS
from ..experiments import (
    Comparison,
    ScalingStudy,
    model_spec,
    parse_budgets,
    run_comparison,
    run_scaling_study,
    study_baseline,
)
from ..experiments.compare import REPORT as COMPARE_REPORT
from ..experiments.scaling import BUDGET_METRICS
from ..experiments.scaling_report import REPORT
from ..scaling import ALPHA, BETA, GAMMA
from .options import add_engine_options, add_proxy_options, proxy_from_args, show_result


def _methods(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    unknown = [name for name in names if name not in METHODS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown scaling method {unknown[0]!r}; choose from {', '.join(METHODS)}")
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("experiment", help="the paper's experiments on real data (scaling study)")
    kinds = parser.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT",
                                  help="scaling: the scaling study; compare: networks trained the same way")
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


def run(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    study = ScalingStudy(study_baseline(args.baseline, proxy.resolution), budgets=parse_budgets(args.budgets),
                         methods=args.methods, seeds=args.seeds, proxy=proxy, alpha=args.alpha, beta=args.beta,
                         gamma=args.gamma, budget_metric=args.budget_metric, grid=args.grid)
    results = run_scaling_study(study, args.output, storage=args.storage, workers=args.workers,
                                threads=args.threads, progress=not args.no_progress)
    show_result(results, Path(args.output) / REPORT, args.json)
    counts = results["counts"]
    return 0 if counts["done"] == counts["planned"] else 1


def run_compare(args: argparse.Namespace) -> int:
    proxy = proxy_from_args(args)
    models = {}
    for item in args.models:
        label, _, source = item.rpartition("=") if "=" in item else (item, "", item)
        label = label if "=" in item else (Path(source).parent.name + "/" + Path(source).stem
                                           if Path(source).is_file() else source)
        models[label] = model_spec(source, proxy.resolution)
    comparison = Comparison(models, seeds=args.seeds, proxy=proxy, size_to=args.size_to,
                            size_method=args.size_method)
    data = run_comparison(comparison, args.output, storage=args.storage, workers=args.workers, threads=args.threads,
                          progress=not args.no_progress)
    show_result(data, Path(args.output) / COMPARE_REPORT, args.json)
    return 0 if data["counts"]["done"] == data["counts"]["planned"] else 1
