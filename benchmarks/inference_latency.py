"""Issue 5 benchmark: batch-1 CPU latency of EfficientNet-B0/B1/Lite0, one thread and all threads.

Contenders, timed round-robin in one run: effnet's default inference path (`optimize_for_inference`: BN folded,
channels-last, a frozen TorchScript graph per input shape), the same folded model run eagerly, effnet exported
to ONNX and run by ONNX Runtime (fp32, and int8 for Lite0), timm eager,
torchvision eager, and ONNX Runtime on timm's own export (`timm.utils.onnx.onnx_export`). Then the int8
top-1 agreement with fp32 for the pretrained Lite0 on the built-in labelled set. Usage:
    .venv/bin/python benchmarks/inference_latency.py [--runs 20] [--models efficientnet-b0,...]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

import effnet
from effnet.deploy.bench import time_interleaved
from effnet.deploy.export import OnnxRuntimeModel, export
from effnet.deploy.inference import optimize_for_inference
from effnet.deploy.quantize import calibration_samples, compare, labelled_samples, quantize_onnx

PEERS = {"efficientnet-b0": ("efficientnet_b0", "efficientnet_b0"),
         "efficientnet-b1": ("efficientnet_b1", "efficientnet_b1"),
         "efficientnet-lite0": ("tf_efficientnet_lite0", None)}


def torch_runner(model: torch.nn.Module, size: int, channels_last: bool = False):
    image = torch.randn(1, 3, size, size)
    if channels_last:
        image = image.contiguous(memory_format=torch.channels_last)

    def run() -> object:
        with torch.inference_mode():
            return model(image)

    return run


def ort_runner(path: Path, size: int, threads: int):
    session = OnnxRuntimeModel(path, threads=threads)
    image = np.random.default_rng(0).standard_normal((1, 3, size, size)).astype(np.float32)
    return lambda: session.run_numpy(image)


def timm_onnx(model: torch.nn.Module, path: Path, size: int) -> Path:
    from timm.utils.onnx import onnx_export

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_export(model.eval(), str(path), input_size=(3, size, size), batch_size=1, check=False)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--models", default="efficientnet-b0,efficientnet-b1,efficientnet-lite0")
    parser.add_argument("--threads", default="1,all", help="thread counts to time, e.g. 1,all")
    args = parser.parse_args()
    import timm
    import torchvision

    all_threads = os.cpu_count() or 1
    scratch = tempfile.TemporaryDirectory(prefix="effnet-bench-")  # removed at exit, however the run ends
    work = Path(scratch.name)
    start = time.time()
    results: list[tuple[str, int, str, float]] = []
    agreement = None
    for name in args.models.split(","):
        pretrained = name == "efficientnet-lite0"
        model = effnet.create_model(name, pretrained=pretrained).eval()
        size = model.spec.resolution
        timm_name, tv_name = PEERS[name]
        contenders: dict[str, object] = {}
        fast = optimize_for_inference(model)
        folded = optimize_for_inference(model, backend="eager")
        timm_model = timm.create_model(timm_name, pretrained=False).eval()
        ours_onnx = export(model, work / f"{name}.onnx", "onnx", resolution=size)
        theirs_onnx = timm_onnx(timm_model, work / f"{name}-timm.onnx", size)
        int8_path = None
        if pretrained:
            config = model.preprocessing
            int8_path = quantize_onnx(ours_onnx, work / f"{name}.int8.onnx", calibration_samples("skimage", config))
            agreement = compare(OnnxRuntimeModel(ours_onnx), OnnxRuntimeModel(int8_path),
                                labelled_samples("skimage-imagenet", config))
        for threads in sorted({all_threads if t == "all" else int(t) for t in args.threads.split(",")}):
            torch.set_num_threads(threads)
            contenders = {"effnet default (frozen graph, folded, channels-last)": torch_runner(fast, size, True),
                          "effnet folded eager (channels-last)": torch_runner(folded, size, True),
                          "effnet eager (unfolded)": torch_runner(model, size),
                          "timm eager": torch_runner(timm_model, size)}
            if tv_name:
                contenders["torchvision eager"] = torch_runner(torchvision.models.get_model(tv_name).eval(), size)
            contenders["onnxruntime, timm export"] = ort_runner(theirs_onnx, size, threads)
            contenders["onnxruntime, effnet export"] = ort_runner(ours_onnx, size, threads)
            if int8_path:
                contenders["onnxruntime int8, effnet export"] = ort_runner(int8_path, size, threads)
            timings = time_interleaved(list(contenders.values()), runs=args.runs, warmup=3)
            for label, timing in zip(contenders, timings):
                results.append((name, threads, label, timing.median * 1e3))
    print("| model | threads | path | median ms | vs timm eager | vs ORT on timm export |\n|---|---|---|---|---|---|")
    for name, threads, label, ms in results:
        base = {lab: m for n, t, lab, m in results if n == name and t == threads}
        print(f"| {name} | {threads} | {label} | {ms:.1f} | {ms / base['timm eager']:.2f}x | "
              f"{ms / base['onnxruntime, timm export']:.2f}x |")
    if agreement:
        print(f"\nint8 (Lite0, pretrained): top-1 agreement with fp32 {agreement.agreement:.1%} on "
              f"{agreement.samples} labelled views; accuracy fp32 {agreement.fp32_accuracy:.1%} -> int8 "
              f"{agreement.int8_accuracy:.1%}")
    print(f"\ntotal {time.time() - start:.0f}s; torch {torch.__version__}, timm {timm.__version__}, "
          f"onnxruntime {__import__('onnxruntime').__version__}; {all_threads} CPU threads")


if __name__ == "__main__":
    main()
