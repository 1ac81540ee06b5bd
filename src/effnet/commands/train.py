"""`effnet train`: train a zoo or scaled model with a recipe (works under `torchrun --nproc_per_node=N -m effnet`)."""

from __future__ import annotations

import argparse

from . import SUMMARIES
from .training import add_training_options, config_from_args, execute


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help=SUMMARIES["train"])
    add_training_options(parser, "paper")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return execute(config_from_args(args), args.json)
