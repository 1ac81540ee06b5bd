"""`effnet quantize MODEL.onnx --output MODEL.int8.onnx`: ONNX Runtime static int8 with a top-1 check."""

from __future__ import annotations

import argparse

from ..deploy.export import OnnxRuntimeModel, read_onnx_metadata
from ..deploy.quantize import (
    CALIBRATION_METHODS,
    calibration_report,
    calibration_samples,
    check_labelled_classes,
    compare,
    labelled_samples,
    quantize_onnx,
)
from ..errors import InputError
from ..hub.loader import model_card
from ..model.preprocessing import Preprocessing
from ..outputs import check_output
from . import SUMMARIES
from .options import print_json


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quantize", help=SUMMARIES["quantize"])
    parser.add_argument("onnx", metavar="MODEL.onnx", help="fp32 ONNX file (from `effnet export`)")
    parser.add_argument("--output", required=True, metavar="FILE", help="int8 ONNX file to write")
    parser.add_argument("--overwrite", action="store_true", help="replace --output if it exists")
    parser.add_argument("--calibration", default="skimage",
                        help="folder of calibration images, a dataset name (fashion-mnist, cifar10, cifar100: its "
                        "training split), or 'skimage' (built-in photos; default)")
    parser.add_argument("--num-calibration", type=int, default=64, help="calibration views (default 64)")
    parser.add_argument("--calibration-method", choices=CALIBRATION_METHODS, default="minmax",
                        help="how activation ranges are set: minmax (default), minmax-average, percentile (clip to "
                        "the 99.99th percentile), entropy (KL threshold; slow), or auto (try minmax, minmax-average "
                        "and percentile, keep the closest to fp32 on held-out calibration images)")
    parser.add_argument("--labelled", default="skimage-imagenet",
                        help="labelled set: a dataset name (its test split), a folder with class-index sub-folders, "
                        "or 'skimage-imagenet' (default)")
    parser.add_argument("--num-labelled", type=int, help="use the first N labelled images (default: all)")
    parser.add_argument("--data-dir", help="where a named dataset's files are (as for `effnet train`)")
    parser.add_argument("--model", metavar="NAME|SPEC.json|DIR|CHECKPOINT",
                        help="model whose preprocessing to use (default: 224 px ImageNet)")
    parser.add_argument("--pretrained", action="store_true", help="use --model's pretrained preprocessing")
    parser.add_argument("--resolution", type=int, default=224, help="input size without --model (default 224)")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_output(args.output, inputs=[args.onnx, args.model], overwrite=args.overwrite)
    if args.num_calibration < 1:
        raise InputError(f"--num-calibration must be at least 1, got {args.num_calibration}")
    if args.num_labelled is not None and args.num_labelled < 1:
        raise InputError(f"--num-labelled must be at least 1, got {args.num_labelled}")
    metadata = read_onnx_metadata(args.onnx)
    if args.model:
        config = model_card(args.model, pretrained=args.pretrained).preprocessing  # nothing is built
    elif metadata.get("preprocessing"):  # the file's own: an exported Lite0 calibrates with (x - 127) / 128
        config = Preprocessing.from_dict(metadata["preprocessing"])
    else:
        config = Preprocessing.for_resolution(args.resolution)
    check_labelled_classes(args.labelled, config, metadata.get("num_classes"), args.data_dir)
    fp32 = OnnxRuntimeModel(args.onnx)
    calibration = calibration_samples(args.calibration, config, args.num_calibration, data_dir=args.data_dir)
    labelled = labelled_samples(args.labelled, config, limit=args.num_labelled, data_dir=args.data_dir)
    path = quantize_onnx(args.onnx, args.output, calibration, method=args.calibration_method,
                         overwrite=args.overwrite)
    result = compare(fp32, OnnxRuntimeModel(path), labelled)
    report = calibration_report(path)
    if args.json:
        print_json({"output": str(path), "calibration": report, **result.as_dict()})
        return 0
    if report.get("chosen_by") == "auto":
        scores = ", ".join(f"{name} {value:.2e}" for name, value in report["mean_kl"].items())
        print(f"calibration: auto chose {report['method']} (mean KL to fp32 on {report['holdout_images']} held-out "
              f"images: {scores})")
    print(f"wrote {path}: int8 top-1 agrees with fp32 on {result.agreement:.1%} of {result.samples} labelled views; "
          f"accuracy fp32 {result.fp32_accuracy:.1%} -> int8 {result.int8_accuracy:.1%} "
          f"({result.accuracy_change * 100:+.1f} points)")
    return 0
