"""`effnet export NAME|DIR --format onnx|torchscript|exported-program --output FILE`: export, then verify."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from torch import nn

from ..errors import WeightsError
from ..export import FORMATS, VerificationError, check_format, export, export_resolution, verify
from ..models import create_model


def load_named_model(source: str, *, pretrained: bool = False, weights: str | None = None) -> nn.Module:
    """A model from a registry name (random, `pretrained` or `weights` FILE) or a `save_pretrained` directory."""
    path = Path(source)
    if path.is_dir():
        if pretrained or weights:
            raise WeightsError(f"{source} is a save_pretrained directory (it has its weights); drop --pretrained")
        from ..weights import from_pretrained

        return from_pretrained(path)
    if weights:
        if not Path(weights).is_file():
            raise WeightsError(f"checkpoint not found: {weights}")
        return create_model(source, pretrained=Path(weights))
    return create_model(source, pretrained=pretrained)


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help="export to ONNX / TorchScript / torch.export and verify it")
    parser.add_argument("model", metavar="NAME|DIR", help="registered model name or save_pretrained directory")
    parser.add_argument("--format", default="onnx", help=f"one of {', '.join(FORMATS)} (default onnx)")
    parser.add_argument("--output", required=True, metavar="FILE", help="file to write (atomically)")
    parser.add_argument("--resolution", type=int, help="example input size (default: the model's)")
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true", default=True,
                       help="keep the batch dimension dynamic (default)")
    batch.add_argument("--static-batch", dest="dynamic_batch", action="store_false", help="fix the batch size to 2")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", action="store_true", help="the model's installed pretrained weights")
    weights.add_argument("--weights", metavar="FILE", help="checkpoint to load (timm/torchvision/effnet naming)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="allowed max abs difference, relative to "
                        "max(1, largest logit) (default 1e-4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_format(args.format)
    model = load_named_model(args.model, pretrained=args.pretrained, weights=args.weights).eval()
    size = export_resolution(model, args.resolution)
    path = export(model, args.output, args.format, resolution=size, dynamic_batch=args.dynamic_batch)
    batches = (1, 2) if args.dynamic_batch else (2,)
    try:
        diff = verify(model, path, args.format, resolution=size, batch_sizes=batches, tolerance=args.tolerance)
    except VerificationError as error:
        print(f"effnet: error: verification failed: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path} ({args.format}); verified against PyTorch at batch {', '.join(map(str, batches))}: "
          f"max abs difference {diff:.3g}")
    return 0
