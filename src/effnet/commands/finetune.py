"""`effnet finetune`: transfer learning from pretrained weights with a fresh classifier (paper Section 5.3)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from . import SUMMARIES
from .training import add_training_options, config_from_args, execute


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("finetune", help=SUMMARIES["finetune"])
    add_training_options(parser, "finetune")
    parser.add_argument("--pretrained", action="store_true", help="start from the model's registered weights")
    parser.add_argument("--weights", help="start from this checkpoint (any supported naming, or a save_pretrained "
                        "folder)")
    parser.add_argument("--freeze-backbone", action="store_true", help="train only the new classifier")
    parser.add_argument("--freeze-bn", action="store_true", help="keep BatchNorm statistics and affine frozen")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not (args.pretrained or args.weights or args.resume):
        raise InputError("finetune needs --pretrained or --weights FILE (use `effnet train` to start from scratch)")
    config = config_from_args(args, pretrained=args.pretrained, weights=args.weights,
                              freeze_backbone=args.freeze_backbone, freeze_bn=args.freeze_bn)
    return execute(config, args.json)
