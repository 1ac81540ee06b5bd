"""Argument groups of the commands that run a study on the experiment engine (experiment, search): how each
trial is trained, where the study lives, and how its result is shown. Apart from options.py, so that the commands
that never run a study do not import the experiments (scipy, matplotlib)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..data import VAL_SPLITS
from ..errors import StudyFailing
from ..experiments.trial import ProxySchedule
from .options import non_negative_int, positive_int, print_json

__all__ = ["add_engine_options", "add_proxy_options", "engine_kwargs", "proxy_from_args", "run_study", "show_result"]


def show_result(data: Any, report: Path, as_json: bool) -> None:
    """A study's result: its JSON (with --json) or its Markdown report."""
    if as_json:
        print_json(data)
    else:
        print(report.read_text(), end="")


def add_proxy_options(parser: argparse.ArgumentParser) -> None:
    """The proxy schedule every trial of a study is trained with (`effnet.experiments.trial.ProxySchedule`)."""
    group = parser.add_argument_group("proxy schedule (how each trial is trained and scored)")
    group.add_argument("--data", required=True, help="fashion-mnist, cifar10, cifar100 or an ImageFolder root")
    group.add_argument("--data-dir", help="where the named dataset's files are")
    group.add_argument("--recipe", default="proxy",
                       help="training recipe (default proxy: zero-initialised residual branches, no stochastic depth, "
                       "light augmentation) or a YAML/JSON file")
    group.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides",
                       help="override a recipe field for every trial, e.g. --set lr=0.004")
    group.add_argument("--epochs", type=positive_int, default=2, help="epochs per trial (default 2)")
    group.add_argument("--batch-size", type=positive_int, help="batch size (default: the recipe's)")
    group.add_argument("--limit-train", type=positive_int, help="train on the first N training images")
    group.add_argument("--limit-val", type=positive_int, help="score on the first N validation images (default all)")
    group.add_argument("--val-split", choices=VAL_SPLITS, default="holdout",
                       help="choose on a fixed stratified holdout of the training set and score the test split once "
                       "per trial (default), or validate on the dataset's own split (no test score)")
    group.add_argument("--limit-test", type=positive_int,
                       help="score only the first N test images (smoke runs; a result needs the whole test split)")
    group.add_argument("--val-points", type=non_negative_int, default=4, metavar="N",
                       help="validation points spread over each trial: its learning curve (default 4)")
    group.add_argument("--resolution", type=positive_int,
                       help="input size of the baseline before scaling (default: the baseline's own)")
    group.add_argument("--seeds", type=positive_int, default=1, help="trials per configuration (default 1)")


def add_engine_options(parser: argparse.ArgumentParser) -> None:
    """Where the study lives and who runs it."""
    group = parser.add_argument_group("study engine")
    group.add_argument("--output", required=True, metavar="DIR",
                       help="study folder: study.json, the journal, results, figures; run again to resume")
    group.add_argument("--workers", type=positive_int, default=1,
                       help="local worker processes sharing the study (default 1)")
    group.add_argument("--threads", type=positive_int, default=1, help="CPU threads per worker (default 1)")
    group.add_argument("--storage", metavar="URL",
                       help="a database URL Optuna accepts (e.g. postgresql+psycopg://user@host/db) so workers on "
                       "several machines share one study (default: a journal file in --output)")
    group.add_argument("--no-progress", action="store_true", help="no progress display")
    group.add_argument("--overwrite", action="store_true",
                       help="start afresh: remove the study in --output (and its outputs) first")
    group.add_argument("--max-failures", type=positive_int, default=3, metavar="N",
                       help="stop the study when N trials in a row fail (default 3)")


def engine_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The engine options as `run_*` keywords."""
    return {"storage": args.storage, "workers": args.workers, "threads": args.threads,
            "progress": not args.no_progress, "overwrite": args.overwrite, "max_failures": args.max_failures}


def run_study(args: argparse.Namespace, run: Callable[[], dict[str, Any]], report: str, *files: str) -> int:
    """Run a study command: print its report (or --json) and exit 0 when every trial finished, 1 otherwise.
    Stopped by Ctrl-C or a run of failed trials, say which partial outputs were written, in one line."""
    output = Path(args.output)
    try:
        data = run()
    except (KeyboardInterrupt, StudyFailing) as stop:
        written = [name for name in (report, *files) if (output / name).exists()]
        what = "interrupted" if isinstance(stop, KeyboardInterrupt) else f"error: {' '.join(str(stop).split())}"
        partial = (f"; wrote the outputs of the trials finished so far: {', '.join(written)} in {output}"
                   if written else "; nothing was written")
        print(f"effnet: {what}{partial} (run the same command again to resume)", file=sys.stderr)
        return 130 if isinstance(stop, KeyboardInterrupt) else 2
    show_result(data, output / report, args.json)
    counts = data["counts"]
    return 0 if counts["done"] == counts["planned"] else 1


def proxy_from_args(args: argparse.Namespace) -> ProxySchedule:
    """The proxy schedule the options describe."""
    return ProxySchedule(data=args.data, data_dir=args.data_dir, recipe=args.recipe,
                         overrides=tuple(args.overrides or ()), epochs=args.epochs, batch_size=args.batch_size,
                         limit_train=args.limit_train, limit_val=args.limit_val, resolution=args.resolution,
                         val_split=args.val_split, val_points=args.val_points, limit_test=args.limit_test)
