"""`effnet cam IMAGE --model NAME --output OUT.png`: Class Activation Map overlay (paper Figure 7)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..hub.loader import load_model
from ..model.preprocessing import load_image
from ..outputs import check_output
from ..viz.cam import METHODS, cam_grid, class_activation_map, overlay, save_png
from . import SUMMARIES
from .options import PADDINGS


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cam", help=SUMMARIES["cam"])
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image file(s); several only with --grid")
    parser.add_argument("--model", action="append", metavar="NAME|SPEC.json|DIR|CHECKPOINT",
                        help="model (repeat with --grid; default efficientnet-lite0)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="use installed pretrained weights")
    weights.add_argument("--weights", metavar="FILE|DIR", help="weights for a single --model")
    parser.add_argument("--padding", choices=PADDINGS, help="'same' for TF-trained checkpoints given with --weights")
    parser.add_argument("--bn-eps", type=float, dest="bn_eps", help="BatchNorm eps the --weights were trained with")
    parser.add_argument("--class", dest="class_index", type=int, help="class to explain (default: the top class)")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="cam (pool + linear heads), gradcam, or auto (cam when possible)")
    parser.add_argument("--full-frame", action="store_true", help="squash the whole image instead of centre-cropping")
    parser.add_argument("--grid", action="store_true", help="a Figure-7-style grid: rows = images, columns = models")
    parser.add_argument("--output", required=True, metavar="OUT.png", help="PNG to write (atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = args.model or ["efficientnet-lite0"]
    if not args.grid and (len(names) > 1 or len(args.images) > 1):
        raise InputError("several images or models need --grid")
    if args.weights and len(names) > 1:
        raise InputError("--weights applies to a single --model")
    inputs = [*args.images, *names, args.weights]
    check_output(args.output, inputs=inputs, overwrite=args.overwrite)  # before any work
    images = [load_image(path) for path in args.images]
    models = [(name, load_model(name, pretrained=args.pretrained, weights=args.weights, padding=args.padding,
                                bn_eps=args.bn_eps)) for name in names]
    if args.grid:
        model = models[0][1]
        labels = model.preprocessing.class_names(model.num_classes) if getattr(model, "num_classes", 0) else None
        grid = cam_grid(models, images, args.class_index, method=args.method, labels=labels,
                        crop=not args.full_frame)
        path = save_png(grid, args.output, overwrite=args.overwrite, inputs=inputs)
        print(f"wrote {path} ({len(images)} image(s) x {len(models)} model(s))")
        return 0
    name, model = models[0]
    result = class_activation_map(model, images[0], args.class_index, method=args.method, crop=not args.full_frame)
    path = save_png(overlay(result), args.output, overwrite=args.overwrite, inputs=inputs)
    labels = model.preprocessing.class_names(model.num_classes)
    label = labels[result.class_index] if result.class_index < len(labels) else str(result.class_index)
    print(f"wrote {path}: {result.method} of {name} for class {result.class_index} ({label}, "
          f"p={result.probability:.3f})")
    return 0
