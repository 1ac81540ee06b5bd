"""What `effnet train` and `effnet finetune` share: their options, the `TrainConfig` made from them, and running
it with one-line messages for divergence and interruption (a shared module, not a command)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from ..data import VAL_SPLITS
from ..train import TrainConfig, Trainer, TrainingDiverged, load_recipe, parse_assignments
from .options import add_scaling_options, add_threads_option, print_json, scaling_kwargs


def add_training_options(parser: argparse.ArgumentParser, recipe_default: str) -> None:
    """Options shared by `train` and `finetune`."""
    parser.add_argument("--model", default=None, metavar="NAME|SPEC.json",
                        help="registered model name or spec file (train: default efficientnet-b0; finetune: default "
                        "the architecture of --weights)")
    add_scaling_options(parser)
    parser.add_argument("--data", required=True, help="fashion-mnist, cifar10, cifar100 or an ImageFolder root "
                        "(ROOT/train/<class>/*, ROOT/val/<class>/*)")
    parser.add_argument("--data-dir", help="where the named dataset's files are (fashion-mnist default: "
                        "/usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist)")
    parser.add_argument("--output", required=True, help="run folder: metrics.jsonl, last.pt, best.pt, pretrained/")
    parser.add_argument("--overwrite", action="store_true", help="start over in an --output that holds a run")
    parser.add_argument("--recipe", default=recipe_default, help="paper, small-data, finetune or a YAML/JSON file "
                        f"(default {recipe_default})")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides",
                        help="override a recipe field, e.g. --set lr=0.1 --set augment=randaugment")
    parser.add_argument("--epochs", type=int, help="epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=int, help="images per process and micro-batch (default: recipe's)")
    parser.add_argument("--lr", type=float, help="base lr per the recipe's lr_batch images (scaled with the batch)")
    parser.add_argument("--accum-steps", type=int, default=1, help="micro-batches per optimizer step")
    parser.add_argument("--max-steps", type=int, help="stop after N optimizer steps in total (across resumes)")
    parser.add_argument("--limit-train", type=int, help="train on the first N images only")
    parser.add_argument("--limit-val", type=int, help="evaluate on the first N validation images only")
    parser.add_argument("--val-split", choices=VAL_SPLITS, default="dataset",
                        help="validate on the dataset's own split (default, as timm: Fashion-MNIST's and CIFAR's test "
                        "set, a folder's val/) or on a fixed stratified holdout of the training set (holdout: the "
                        "test split is then scored once, at the end)")
    parser.add_argument("--val-points", type=int, default=0, metavar="N",
                        help="also validate at N evenly spread steps (a learning curve within short runs)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                        help="continue exactly from OUTPUT/last.pt (or CHECKPOINT)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--amp", default="auto", choices=("auto", "bf16", "fp16", "off"),
                        help="mixed precision on CUDA (auto: bf16 where supported); CPU always runs fp32")
    parser.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                        help="channels_last memory format (default: on for CPU and CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--workers", type=int, default=0, help="data-loader worker processes")
    parser.add_argument("--on-bad-image", default="skip", choices=("skip", "fail"),
                        help="unreadable images in an ImageFolder: skip and count (default) or fail")
    parser.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across processes (CUDA)")
    parser.add_argument("--num-classes", type=int, help="classifier outputs (default: the dataset's classes)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--tensorboard", action="store_true",
                        help="also log scalars to OUTPUT/tensorboard (needs the tensorboard package)")
    add_threads_option(parser, "1 for inputs of at most 64 px on a CPU, where it trains faster than two; PyTorch's "
                       "own otherwise")
    parser.add_argument("--json", action="store_true", help="print the final summary as JSON")


def config_from_args(args: argparse.Namespace, **extra: object) -> TrainConfig:
    """Build a `TrainConfig` from parsed CLI options."""
    overrides = parse_assignments(args.overrides)
    if args.lr is not None:
        overrides["lr"] = args.lr
    recipe = load_recipe(args.recipe, overrides)
    weights = extra.get("weights")
    model = args.model if args.model is not None else (weights if weights else "efficientnet-b0")
    if args.model is None and weights:
        extra = {**extra, "weights": None}
    options = {key: value for key, value in scaling_kwargs(args).items() if value is not None}
    return TrainConfig(model=model, model_options=options, data=args.data, data_dir=args.data_dir,
                       output=args.output, recipe=recipe, epochs=args.epochs, batch_size=args.batch_size,
                       max_steps=args.max_steps, limit_train=args.limit_train, limit_val=args.limit_val,
                       val_split=args.val_split, val_points=args.val_points, threads=args.threads,
                       seed=args.seed, resume=args.resume, device=args.device, amp=args.amp,
                       channels_last=args.channels_last, compile=args.compile, accum_steps=args.accum_steps,
                       workers=args.workers, on_bad_image=args.on_bad_image, sync_bn=args.sync_bn,
                       num_classes=args.num_classes, progress=not args.no_progress, tensorboard=args.tensorboard,
                       overwrite=args.overwrite, **extra)  # type: ignore[arg-type]


def execute(config: TrainConfig, as_json: bool) -> int:
    """Run a training config; one-line messages for divergence and interruption."""
    main_rank = int(os.environ.get("RANK", "0")) == 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                summary = Trainer(config).fit()
            finally:
                for warning in caught:  # one line each, never a source excerpt; rank 0 only
                    if main_rank and not issubclass(warning.category, (DeprecationWarning, FutureWarning)):
                        print(f"effnet: warning: {warning.message}", file=sys.stderr)
    except TrainingDiverged as error:
        print(f"effnet: error: {error}", file=sys.stderr)
        return 2
    if summary["status"] == "interrupted":
        print(f"effnet: {summary['signal']} received; checkpoint saved to {summary['checkpoint']} at step "
              f"{summary['global_step']}; continue with --resume", file=sys.stderr)
        return 130 if summary["signal"] == "SIGINT" else 143
    if not main_rank:
        return 0
    if as_json:
        print_json(summary)
    elif summary["last"] is not None:
        last = summary["last"]
        ema = f", EMA top-1 {last['ema_top1']:.2f}%" if last.get("ema_top1") is not None else ""
        weights = "the EMA's weights, better on validation; " if last.get("test_weights") == "ema" else ""
        test = (f"; test top-1 {last['test_top1']:.2f}% ({weights}scored once)" if last.get("test_top1") is not None
                else "")
        print(f"{summary['status']} at step {summary['global_step']}: val top-1 {last['val_top1']:.2f}%, "
              f"top-5 {last['val_top5']:.2f}%{ema}{test}; outputs in {summary['output']}")
    return 0
