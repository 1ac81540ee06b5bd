"""Argument groups shared by several subcommands."""

from __future__ import annotations

import argparse
from typing import Any


def add_scaling_options(parser: argparse.ArgumentParser) -> None:
    """--phi / --depth / --width / --resolution-mult / --resolution (pixels)."""
    group = parser.add_argument_group("scaling (paper Eq. 2-3)")
    group.add_argument("--phi", type=float, help="compound coefficient: d=alpha^phi, w=beta^phi, r=gamma^phi")
    group.add_argument("--depth", type=float, help="depth multiplier d (repeats per stage)")
    group.add_argument("--width", type=float, help="width multiplier w (channels)")
    group.add_argument("--resolution-mult", type=float, dest="resolution_mult", help="resolution multiplier r")
    group.add_argument("--resolution", type=int, help="input size in pixels")
    group.add_argument("--alpha", type=float, default=None)
    group.add_argument("--beta", type=float, default=None)
    group.add_argument("--gamma", type=float, default=None)


def scaling_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The scaling options the user gave, as `create_model`/`resolve_spec` keywords."""
    pairs = {"phi": args.phi, "depth": args.depth, "width": args.width, "resolution": args.resolution_mult,
             "image_size": args.resolution, "alpha": args.alpha, "beta": args.beta, "gamma": args.gamma}
    return {k: v for k, v in pairs.items() if v is not None}
