"""`effnet export MODEL --format onnx|torchscript|exported-program --output FILE`: export, then verify."""

from __future__ import annotations

import argparse
import sys

from ..deploy.export import FORMATS, VerificationError, check_format, export, export_resolution, verify
from ..errors import for_cli
from ..outputs import check_output
from . import SUMMARIES
from .options import add_model_options, model_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("export", help=SUMMARIES["export"])
    parser.add_argument("model_positional", nargs="?", metavar="MODEL",
                        help="registered name, spec file, save_pretrained folder or trainer checkpoint (or --model)")
    add_model_options(parser, scaling=False)
    parser.add_argument("--format", default="onnx", help=f"one of {', '.join(FORMATS)} (default onnx)")
    parser.add_argument("--output", required=True, metavar="FILE", help="file to write (atomically)")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--resolution", type=int, help="example input size (default: the model's)")
    batch = parser.add_mutually_exclusive_group()
    batch.add_argument("--dynamic-batch", dest="dynamic_batch", action="store_true", default=True,
                       help="keep the batch dimension dynamic (default)")
    batch.add_argument("--static-batch", dest="dynamic_batch", action="store_false", help="fix the batch size to 2")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="allowed max abs difference, relative to "
                        "max(1, largest logit) (default 1e-4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_format(args.format)
    if args.model is None and args.model_positional is not None:
        args.model = args.model_positional
    inputs = [args.model, args.weights]
    check_output(args.output, inputs=inputs, overwrite=args.overwrite)  # before any work
    model = model_from_args(args).eval()
    size = export_resolution(model, args.resolution)
    batches = (1, 2) if args.dynamic_batch else (2,)
    found: list[float] = []

    def check(written):  # on the written file, before it is moved to --output: a failed one never gets there
        found.append(verify(model, written, args.format, resolution=size, batch_sizes=batches,
                            tolerance=args.tolerance))

    try:
        path = export(model, args.output, args.format, resolution=size, dynamic_batch=args.dynamic_batch,
                      overwrite=args.overwrite, inputs=inputs, check=check)
    except VerificationError as error:
        message = for_cli(RuntimeError.__str__(error))
        print(f"effnet: error: verification failed, nothing was written to {args.output}: {message}",
              file=sys.stderr)
        return 1
    diff = found[0]
    print(f"wrote {path} ({args.format}); verified against PyTorch at batch {', '.join(map(str, batches))}: "
          f"max abs difference {diff:.3g}")
    return 0
