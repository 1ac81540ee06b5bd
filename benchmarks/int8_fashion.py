"""Issue 5 benchmark: int8 (ONNX Runtime static quantization) of a model trained on Fashion-MNIST, judged on the
real 10k-image test set: top-1 agreement with fp32, accuracy change, and batch-1 latency of both.

The model is a `save_pretrained` folder from `effnet finetune` / `effnet train` (e.g. the fine-tuned Lite0 that
`benchmarks/finetune_vs_scratch.py --keep DIR` leaves in DIR/run0/pretrained). Usage:
    .venv/bin/python benchmarks/int8_fashion.py RUN/pretrained [--num-calibration 256] [--num-labelled 10000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import effnet
from effnet.deploy.bench import time_interleaved
from effnet.deploy.export import OnnxRuntimeModel, export
from effnet.deploy.quantize import (
    CALIBRATION_METHODS,
    calibration_report,
    calibration_samples,
    compare,
    labelled_samples,
    quantize_onnx,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="save_pretrained folder of a model trained on Fashion-MNIST")
    parser.add_argument("--num-calibration", type=int, default=256)
    parser.add_argument("--calibration-method", default="minmax", choices=CALIBRATION_METHODS,
                        help="see effnet.deploy.quantize.quantize_onnx")
    parser.add_argument("--num-labelled", type=int, default=None, help="first N test images (default: all 10k)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--runs", type=int, default=50, help="timed batch-1 runs per model")
    parser.add_argument("--input-size", type=int, help="override the saved preprocessing's input size")
    parser.add_argument("--crop-pct", type=float, help="override the saved preprocessing's crop fraction")
    parser.add_argument("--interpolation", help="override the saved preprocessing's interpolation")
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    model = effnet.from_pretrained(args.model).eval()
    config = model.preprocessing.replace(input_size=args.input_size, crop_pct=args.crop_pct,
                                         interpolation=args.interpolation)
    with tempfile.TemporaryDirectory(prefix="effnet-int8-") as folder:  # removed however the run ends
        work = Path(folder)
        fp32_path = export(model, work / "fp32.onnx", "onnx", resolution=config.input_size)
        calibration = calibration_samples("fashion-mnist", config, args.num_calibration, data_dir=args.data_dir)
        int8_path = quantize_onnx(fp32_path, work / "int8.onnx", calibration, method=args.calibration_method)
        labelled = labelled_samples("fashion-mnist", config, limit=args.num_labelled, data_dir=args.data_dir)
        fp32, int8 = OnnxRuntimeModel(fp32_path, threads=1), OnnxRuntimeModel(int8_path, threads=1)
        result = compare(fp32, int8, labelled)
        image = np.random.default_rng(0).standard_normal((1, 3, config.input_size, config.input_size))
        image = image.astype(np.float32)
        timings = time_interleaved([lambda: fp32.run_numpy(image), lambda: int8.run_numpy(image)],
                                   runs=args.runs, warmup=5)
        calibration_info = calibration_report(int8_path)
    report = {"model": args.model, "spec": model.spec.name, "preprocessing": config.to_dict(),
              "calibration_images": len(calibration), "calibration": calibration_info,
              **result.as_dict(),
              "fp32_ms": round(timings[0].median * 1e3, 2), "int8_ms": round(timings[1].median * 1e3, 2),
              "seconds": round(time.time() - started, 1)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
