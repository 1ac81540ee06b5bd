"""Argument groups shared by several subcommands, and the one way a command turns them into a model."""

from __future__ import annotations

import argparse
import json
import math
from typing import Any

import torch
from torch import nn

from ..architecture.scaling import REPEAT_ROUNDINGS
from ..architecture.spec import PADDINGS
from ..errors import InputError
from ..hub.loader import WeightsSource, load_model
from ..hub.source import STORED, Source, resolve_source, resolve_weights

__all__ = ["PADDINGS", "add_model_options", "add_scaling_options", "model_from_args", "model_source",
           "non_negative_int", "positive_int", "print_json", "scaling_kwargs"]


def add_scaling_options(parser: argparse.ArgumentParser) -> None:
    """--phi / --depth / --width / --resolution-mult / --resolution (pixels) / --alpha / --beta / --gamma."""
    group = parser.add_argument_group("scaling (paper Eq. 2-3)")
    group.add_argument("--phi", type=float, help="compound coefficient: d=alpha^phi, w=beta^phi, r=gamma^phi")
    group.add_argument("--depth", type=float, help="depth multiplier d (repeats per stage)")
    group.add_argument("--width", type=float, help="width multiplier w (channels)")
    group.add_argument("--resolution-mult", type=float, dest="resolution_mult", help="resolution multiplier r")
    group.add_argument("--resolution", type=int, help="input size in pixels")
    group.add_argument("--alpha", type=float, default=None, help="depth base of --phi (default 1.2)")
    group.add_argument("--beta", type=float, default=None, help="width base of --phi (default 1.1)")
    group.add_argument("--gamma", type=float, default=None, help="resolution base of --phi (default 1.15)")
    group.add_argument("--repeat-rounding", dest="repeat_rounding", choices=REPEAT_ROUNDINGS, default=None,
                       help="how scaled repeats round: ceil (the paper's, default) or nearest")


def scaling_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The scaling options the user gave, as `load_model`/`resolve_spec` keywords (None = not given)."""
    return {"phi": args.phi, "depth": args.depth, "width": args.width, "resolution": args.resolution_mult,
            "image_size": args.resolution, "alpha": args.alpha, "beta": args.beta, "gamma": args.gamma,
            "repeat_rounding": args.repeat_rounding}


def add_model_options(parser: argparse.ArgumentParser, *, default: str | None = None, scaling: bool = True,
                      num_classes: bool = True) -> None:
    """--model / --weights / --pretrained (+ spec-field overrides and, optionally, scaling and --num-classes)."""
    parser.add_argument("--model", default=None, metavar="NAME|SPEC.json|DIR|CHECKPOINT",
                        help="registered name, spec file, save_pretrained folder or trainer checkpoint"
                        + (f" (default {default})" if default else ""))
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="the model's registered pretrained weights")
    weights.add_argument("--weights", metavar="FILE|DIR",
                         help="weights for --model: a file in timm/torchvision/efficientnet_pytorch/effnet naming, a "
                         "save_pretrained folder or a trainer checkpoint (the last two need no --model)")
    group = parser.add_argument_group("settings a state dict cannot carry")
    group.add_argument("--padding", choices=PADDINGS, help="'same' for TF-trained checkpoints")
    group.add_argument("--bn-eps", type=float, dest="bn_eps", help="BatchNorm eps the weights were trained with")
    if num_classes:
        parser.add_argument("--num-classes", type=int, dest="num_classes",
                            help="classifier outputs of --weights (default: the weights' own, else 1000)")
    if scaling:
        add_scaling_options(parser)
    parser.set_defaults(model_default=default)


def model_source(args: argparse.Namespace) -> tuple[Source, WeightsSource | None]:
    """(source, weights) for `load_model`, each resolved once (read once) and passed on: --weights alone may carry
    the architecture (a folder or a trainer checkpoint); a plain weights file belongs to --model (or the command's
    default model)."""
    if args.model is not None:
        source = resolve_source(args.model)
        if isinstance(source, STORED) or args.weights is None:
            return source, args.weights  # the loader refuses weights for a model that holds its own
        return source, resolve_weights(args.weights)
    weights = None if args.weights is None else resolve_weights(args.weights)
    if weights is not None and (isinstance(weights, STORED) or args.model_default is None):
        return weights, None
    if args.model_default is None:
        raise InputError("name the model: --model NAME|SPEC.json|DIR|CHECKPOINT (or --weights DIR|CHECKPOINT)")
    return resolve_source(args.model_default), weights


def model_from_args(args: argparse.Namespace, sources: tuple[Source, WeightsSource | None] | None = None,
                    **extra: Any) -> nn.Module:
    """The model the options describe, through the one loader; `sources`: what `model_source` already resolved."""
    source, weights = sources or model_source(args)
    options = scaling_kwargs(args) if hasattr(args, "phi") else {}
    return load_model(source, weights=weights, pretrained=args.pretrained, padding=args.padding, bn_eps=args.bn_eps,
                      num_classes=getattr(args, "num_classes", None), **options, **extra)


def _at_least(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _at_least(text, 1, "a positive integer")


def add_threads_option(parser: argparse.ArgumentParser, default: str) -> None:
    """--threads N (CPU threads of this command), with what the default is."""
    parser.add_argument("--threads", type=positive_int, default=None, help=f"CPU threads (default: {default})")


def set_threads(args: argparse.Namespace) -> None:
    """Use the --threads the user gave (bounded like every count)."""
    if getattr(args, "threads", None) is not None:
        if args.threads > 256:
            raise InputError(f"threads must be an integer in [1, 256], got {args.threads}")
        torch.set_num_threads(args.threads)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _at_least(text, 0, "a non-negative integer")




def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def print_json(data: Any) -> None:
    """Print valid JSON: NaN and infinities (which JSON cannot hold) become null."""
    print(json.dumps(_finite(data), indent=2, allow_nan=False))
