"""`effnet report DIR`: a study's report (and figures) written again from its committed results, without training;
DIR may hold several studies (a recorded result), and each is written again."""

from __future__ import annotations

import argparse
import sys

from ..experiments.report import write_reports
from . import SUMMARIES


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help=SUMMARIES["report"])
    parser.add_argument("folder", metavar="DIR", help="a study folder (study.json and its results file), or a folder "
                        "holding several: every study beneath it is written again")
    parser.add_argument("--output", metavar="DIR", help="where to write them, each study in the same place beneath it "
                        "as beneath the first DIR (default: in place)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    written, left = write_reports(args.folder, args.output)
    for path in written:
        print(f"wrote {path}")
    for reason in left:
        print(f"left {reason}", file=sys.stderr)
    return 0
