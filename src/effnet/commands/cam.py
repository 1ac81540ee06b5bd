"""`effnet cam IMAGE --model NAME --output OUT.png`: Class Activation Map overlay (paper Figure 7)."""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..labels import class_names
from ..preprocess import load_image
from ..viz.cam import METHODS, cam_grid, class_activation_map, overlay, save_png
from .export import load_named_model


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("cam", help="overlay a Class Activation Map on an image (paper Figure 7)")
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image file(s); several only with --grid")
    parser.add_argument("--model", action="append", metavar="NAME|DIR",
                        help="model name or save_pretrained directory (repeat with --grid; default efficientnet-lite0)")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="use installed pretrained weights")
    weights.add_argument("--weights", metavar="FILE", help="checkpoint for a single --model")
    parser.add_argument("--class", dest="class_index", type=int, help="class to explain (default: the top class)")
    parser.add_argument("--method", choices=METHODS, default="auto",
                        help="cam (pool + linear heads), gradcam, or auto (cam when possible)")
    parser.add_argument("--full-frame", action="store_true", help="squash the whole image instead of centre-cropping")
    parser.add_argument("--grid", action="store_true", help="a Figure-7-style grid: rows = images, columns = models")
    parser.add_argument("--output", required=True, metavar="OUT.png", help="PNG to write (atomically)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    names = args.model or ["efficientnet-lite0"]
    if not args.grid and (len(names) > 1 or len(args.images) > 1):
        raise InputError("several images or models need --grid")
    if args.weights and len(names) > 1:
        raise InputError("--weights applies to a single --model")
    images = [load_image(path) for path in args.images]
    models = [(name, load_named_model(name, pretrained=args.pretrained, weights=args.weights)) for name in names]
    if args.grid:
        num_classes = getattr(models[0][1], "num_classes", 0)
        labels = class_names(None, num_classes) if num_classes else None
        grid = cam_grid(models, images, args.class_index, method=args.method, labels=labels,
                        crop=not args.full_frame)
        path = save_png(grid, args.output)
        print(f"wrote {path} ({len(images)} image(s) x {len(models)} model(s))")
        return 0
    name, model = models[0]
    result = class_activation_map(model, images[0], args.class_index, method=args.method, crop=not args.full_frame)
    path = save_png(overlay(result), args.output)
    labels = class_names(None, getattr(model, "num_classes", 0))
    label = labels[result.class_index] if result.class_index < len(labels) else str(result.class_index)
    print(f"wrote {path}: {result.method} of {name} for class {result.class_index} ({label}, "
          f"p={result.probability:.3f})")
    return 0
