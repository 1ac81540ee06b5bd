"""What multi-fidelity search saves: the Step-1 coefficient grid on a reduced grid, once in full and once with
Hyperband over each trial's validation points, same proxy and seeds; the steps trained by each and whether they
choose the same coefficients (on validation accuracy, grid phase only).

    .venv/bin/python benchmarks/multifidelity.py --output runs/bench-multifidelity [--json FILE]
Both searches resume from their folders."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from effnet.errors import USER_ERRORS
from effnet.experiments.smoke import smoke_baseline, smoke_proxy
from effnet.search import CoefficientSearch, run_coefficient_search


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("runs/bench-multifidelity"))
    parser.add_argument("--baseline", default="efficientnet-b0-small")
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--tolerance", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--val-points", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit-train", type=int, help="fewer training images than the smoke proxy's (tests)")
    parser.add_argument("--baseline-width", type=float, default=1.0, help="width of the baseline (tests: smaller)")
    parser.add_argument("--json", type=Path, help="also write the comparison as JSON here (refused if it exists)")
    args = parser.parse_args()
    if args.json is not None and args.json.exists():
        parser.exit(2, f"{parser.prog}: error: {args.json} already exists\n")
    proxy = replace(smoke_proxy(args.data_dir, args.limit_train), epochs=args.epochs, val_points=args.val_points)
    results = {}
    try:
        for pruner in ("none", "hyperband"):
            search = CoefficientSearch(smoke_baseline(args.baseline_width, args.baseline), step=args.step,
                                       tolerance=args.tolerance, proxy=proxy, pruner=pruner, confirm=0)
            results[pruner] = run_coefficient_search(search, args.output / pruner, workers=args.workers,
                                                     progress=False)
    except USER_ERRORS as error:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(error).split())}\n")
    full, pruned = results["none"], results["hyperband"]
    choice = {name: (data["alpha"], data["beta"], data["gamma"]) for name, data in results.items()}
    summary = {"candidates": len(full["candidates"]), "full_grid_steps": full["compute"]["steps_trained"],
               "hyperband_steps": pruned["compute"]["steps_trained"],
               "hyperband_trials_pruned": pruned["compute"]["trials_pruned"],
               "fraction": round(pruned["compute"]["steps_trained"] / max(1, full["compute"]["steps_trained"]), 4),
               "full_grid_choice": choice["none"], "hyperband_choice": choice["hyperband"],
               "same_choice": choice["none"] == choice["hyperband"],
               "full_grid_ranking": full["ranking"][:5], "hyperband_ranking": pruned["ranking"][:5]}
    print(f"{summary['candidates']} candidates; full grid {summary['full_grid_steps']:,} steps, Hyperband "
          f"{summary['hyperband_steps']:,} steps ({summary['fraction']:.0%}; {summary['hyperband_trials_pruned']} "
          f"trials pruned); choice full {choice['none']}, Hyperband {choice['hyperband']}: "
          f"{'the same' if summary['same_choice'] else 'DIFFERENT'}")
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
