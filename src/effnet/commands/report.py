"""`effnet report DIR`: a study's report (and figures) written again from its committed results, without training."""

from __future__ import annotations

import argparse

from ..experiments.report import write_report
from . import SUMMARIES


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help=SUMMARIES["report"])
    parser.add_argument("folder", metavar="DIR", help="a study folder (study.json and its results file)")
    parser.add_argument("--output", metavar="DIR", help="where to write them (default: DIR itself)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in write_report(args.folder, args.output):
        print(f"wrote {path}")
    return 0
