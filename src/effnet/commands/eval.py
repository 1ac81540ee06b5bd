"""`effnet eval`: top-1/top-5 and per-class accuracy of a model (and its EMA) on a dataset split, preprocessed the
way the weights were validated (a finished run's own `val_top1` is reproduced exactly) unless overridden."""

from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader, Subset

from ..architecture.profiling import images_per_batch
from ..data import VAL_SPLITS, View, eval_transform, make_dataset, make_splits
from ..errors import InputError
from ..outputs import printable
from ..train.config import default_channels_last, resolve_device
from ..train.evaluate import evaluate
from . import SUMMARIES
from .options import add_model_options, add_threads_option, model_from_args, model_source, print_json, set_threads


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("eval", help=SUMMARIES["eval"])
    add_model_options(parser, num_classes=False)
    parser.add_argument("--data", required=True, help="fashion-mnist, cifar10, cifar100 or an ImageFolder root")
    parser.add_argument("--data-dir", help="where the named dataset's files are")
    parser.add_argument("--split", default="val", choices=("train", "val", "test"), help="which split (default val)")
    parser.add_argument("--val-split", choices=VAL_SPLITS, default="dataset",
                        help="what val and train mean: the dataset's own splits (default), or a run's held-out "
                        "validation images and the rest of the training split (holdout, as --val-split in train)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--limit-val", type=int, help="only the first N images")
    parser.add_argument("--crop-fraction", type=float, default=None,
                        help="resize to res/crop then center-crop (default: the weights' own preprocessing)")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default 0)")
    parser.add_argument("--on-bad-image", default="skip", choices=("skip", "fail"),
                        help="unreadable images in an ImageFolder: skip and count (default) or fail")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="channels_last memory format (default: on for CPU and CUDA, as the trainer)")
    add_threads_option(parser, "PyTorch's own")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit_val is not None and args.limit_val < 1:
        raise InputError(f"--limit-val must be >= 1, got {args.limit_val}")
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}")
    set_threads(args)
    device = resolve_device(args.device)
    if args.val_split == "holdout":
        parts = make_splits(args.data, "holdout", data_dir=args.data_dir, on_bad_image=args.on_bad_image)
        dataset = {"train": parts.train, "val": parts.val, "test": parts.test}[args.split]
        if dataset is None:
            raise InputError(f"{args.data} has no test split to score (a folder needs test/<class>/*)")
    else:
        dataset = make_dataset(args.data, args.split, data_dir=args.data_dir, on_bad_image=args.on_bad_image)
    classes = list(dataset.classes)
    sources = model_source(args)  # read once: the EMA model below comes from the same checkpoint
    first = model_from_args(args, sources)
    labels = list(first.preprocessing.labels or ())
    if labels and labels != classes:
        differ = next((f"{i}: {printable(a)} / {printable(b)}" for i, (a, b) in enumerate(zip(labels, classes))
                       if a != b), f"{len(labels)} / {len(classes)} classes")
        raise InputError(f"the data's classes are not the model's (first difference, model / data: {differ}); "
                         "its accuracy would be meaningless")
    if not first.weights_origin:
        raise InputError("eval needs weights: --weights FILE|DIR|CHECKPOINT, --model DIR|CHECKPOINT, or --model NAME "
                         "--pretrained")
    models = {"model": first}
    if first.weights_origin.get("ema_available"):
        models["ema"] = model_from_args(args, sources, ema=True)
    del sources  # a checkpoint's whole content (optimizer state too) need not stay in memory while evaluating
    preprocessing = first.preprocessing.replace(crop_pct=args.crop_fraction)
    if isinstance(dataset, View):
        dataset = dataset.with_transform(eval_transform(preprocessing)).limited(args.limit_val)
    else:
        dataset.transform = eval_transform(preprocessing)
        if args.limit_val:
            dataset = Subset(dataset, range(min(args.limit_val, len(dataset))))
    # a batch within the memory bound (the numbers do not depend on it); one image beyond it is refused
    batch_size = images_per_batch(first.spec, preprocessing.input_size, args.batch_size)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=args.workers)
    channels_last = default_channels_last(device) if args.channels_last is None else args.channels_last
    results = {}
    for key, net in models.items():
        if net.num_classes < len(classes):
            raise InputError(f"labels out of range: the data has {len(classes)} classes, the model only "
                             f"{net.num_classes} outputs")
        net = net.to(device)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        results[key] = evaluate(net, loader, num_classes=len(classes), device=device, classes=classes,
                                channels_last=channels_last)
    resolution = preprocessing.input_size
    if args.json:
        print_json({"resolution": resolution, "crop_fraction": preprocessing.crop_pct, **results})
        return 0
    for key, result in results.items():
        print(f"{key}: top-1 {result['top1']:.2f}%  top-5 {result['top5']:.2f}%  loss {result['loss']:.4f}  "
              f"({result['count']} images, {resolution}px, crop {preprocessing.crop_pct:g})")
    print("per-class top-1 (model): " + ", ".join(
        f"{name} {acc:.1f}" for name, acc in results["model"]["per_class"].items() if acc is not None))
    return 0
