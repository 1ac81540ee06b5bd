"""`effnet eval`: top-1/top-5 and per-class accuracy of a model (and its EMA) on a dataset split."""

from __future__ import annotations

import argparse
import json

import torch
from torch.utils.data import DataLoader, Subset

from ..data import TransformConfig, eval_transform, make_dataset
from ..errors import InputError
from ..evaluate import evaluate, load_for_eval
from .options import add_scaling_options, scaling_kwargs


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help="evaluate weights on a dataset: top-1/top-5 (model and EMA), per class")
    parser.add_argument("--model", help="model name (not needed for trainer checkpoints or save_pretrained dirs)")
    add_scaling_options(parser)
    parser.add_argument("--weights", help="trainer checkpoint (last.pt/best.pt), save_pretrained folder or weights "
                        "file")
    parser.add_argument("--pretrained", action="store_true", help="the model's registered pretrained weights")
    parser.add_argument("--data", required=True, help="fashion-mnist, cifar10, cifar100 or an ImageFolder root")
    parser.add_argument("--data-dir", help="where the named dataset's files are")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit-val", type=int, help="only the first N images")
    parser.add_argument("--crop-fraction", type=float, default=None,
                        help="resize to res/crop then center-crop (default: the weights' own, else 1.0 up to 64px "
                        "inputs and 0.875 above)")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--on-bad-image", default="skip", choices=("skip", "fail"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.weights and args.pretrained:
        raise InputError("--weights and --pretrained contradict each other; pass one")
    if args.limit_val is not None and args.limit_val < 1:
        raise InputError(f"--limit-val must be >= 1, got {args.limit_val}")
    dataset = make_dataset(args.data, args.split, data_dir=args.data_dir, on_bad_image=args.on_bad_image)
    classes = list(dataset.classes)
    models = load_for_eval(args.weights, args.model, num_classes=len(classes), pretrained=args.pretrained,
                           **scaling_kwargs(args))
    first = models["model"]
    resolution = first.spec.resolution
    pretrained = getattr(first, "pretrained_cfg", None) or {}  # weights keep their own normalisation and crop
    crop = args.crop_fraction if args.crop_fraction is not None else pretrained.get(
        "crop_pct", 1.0 if resolution <= 64 else 0.875)
    if not 0 < crop <= 1:
        raise InputError(f"--crop-fraction must be in (0, 1], got {crop}")
    norm = {key: tuple(pretrained[key]) for key in ("mean", "std") if key in pretrained}
    dataset.transform = eval_transform(TransformConfig(resolution, crop_fraction=crop, **norm))
    if args.limit_val:
        dataset = Subset(dataset, range(min(args.limit_val, len(dataset))))
    loader = DataLoader(dataset, batch_size=args.batch_size, num_workers=args.workers)
    device = torch.device(args.device)
    results = {}
    for key, net in models.items():
        if net.num_classes < len(classes):
            raise InputError(f"labels out of range: the data has {len(classes)} classes, the model only "
                             f"{net.num_classes} outputs")
        results[key] = evaluate(net.to(device), loader, num_classes=len(classes), device=device, classes=classes)
    if args.json:
        print(json.dumps({"resolution": resolution, "crop_fraction": crop, **results}, indent=2))
        return 0
    for key, result in results.items():
        print(f"{key}: top-1 {result['top1']:.2f}%  top-5 {result['top5']:.2f}%  loss {result['loss']:.4f}  "
              f"({result['count']} images, {resolution}px)")
    print("per-class top-1 (model): " + ", ".join(
        f"{name} {acc:.1f}" for name, acc in results["model"]["per_class"].items() if acc is not None))
    return 0
