"""`effnet dashboard DIR`: a live view of a study in the browser (optuna-dashboard: `effnet[dashboard]`)."""

from __future__ import annotations

import argparse
import sys

from ..engine.dashboard import DEFAULT_PORT, serve
from . import SUMMARIES
from .options import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("dashboard", help=SUMMARIES["dashboard"])
    parser.add_argument("folder", metavar="DIR", help="a study folder (what --output of a study or search made)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=positive_int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--storage", metavar="URL", help="the study's database URL, when its folder keeps it "
                        "without the password")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    def ready(url: str) -> None:
        print(f"serving {args.folder} at {url} (Ctrl-C to stop)", file=sys.stderr, flush=True)

    try:
        serve(args.folder, host=args.host, port=args.port, storage=args.storage, ready=ready)
    except KeyboardInterrupt:
        return 0
    return 0
