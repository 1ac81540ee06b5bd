"""Training throughput (images/s) and peak memory of EfficientNet-B0: effnet vs timm's efficientnet_b0, same
optimizer (effnet's TF-style RMSProp), same loss, default settings, one fresh process per measurement.

"Default settings" means each library's own: effnet's trainer uses channels-last on CPU and CUDA
(`effnet.train.default_channels_last`), timm's models are NCHW unless asked; the `timm-cl` row gives timm the
same memory format, so the layer-for-layer comparison is there too.

    .venv/bin/python benchmarks/train_throughput.py --resolutions 64 224 --threads 1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time


def measure(impl: str, resolution: int, batch: int, steps: int, warmup: int, threads: int) -> dict:
    import torch
    import torch.nn.functional as F

    from effnet.train import RMSpropTF, param_groups

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if impl == "effnet":
        import effnet
        from effnet.train import default_channels_last

        model = effnet.create_model("efficientnet-b0", num_classes=1000)  # drop_path, dropout 0.2: its defaults
        channels_last = default_channels_last(device)
    else:
        import timm

        model = timm.create_model("efficientnet_b0", num_classes=1000, drop_path_rate=0.2)  # dropout 0.2 default
        channels_last = impl == "timm-cl"
    model.train()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = RMSpropTF(param_groups(model, 1e-5), lr=0.016, decay=0.9, momentum=0.9, eps=1e-3)
    images = torch.randn(batch, 3, resolution, resolution, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    targets = torch.randint(0, 1000, (batch,), device=device)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def step() -> None:
        loss = F.cross_entropy(model(images), targets, label_smoothing=0.1)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {"impl": impl, "channels_last": channels_last, "resolution": resolution, "batch": batch, "steps": steps,
              "threads": threads,
              "device": device, "images_per_s": round(batch * steps / seconds, 2),
              "params": sum(p.numel() for p in model.parameters()), "peak_rss_mib": round(peak_rss / 1024, 1),
              "rss_growth_mib": round((peak_rss - before) / 1024, 1)}
    if device == "cuda":
        result["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 224])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, nargs="+", default=None, help="timed steps per resolution")
    parser.add_argument("--child", nargs=2, metavar=("IMPL", "RES"), help=argparse.SUPPRESS)
    parser.add_argument("--child-steps", type=int, nargs=2, default=(10, 2), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        steps, warmup = args.child_steps
        print(json.dumps(measure(args.child[0], int(args.child[1]), args.batch, steps, warmup, args.threads)))
        return 0
    steps = args.steps or [10 if r <= 96 else 3 for r in args.resolutions]
    results = []
    for resolution, count in zip(args.resolutions, steps):
        for impl in ("effnet", "timm", "timm-cl"):
            command = [sys.executable, __file__, "--child", impl, str(resolution), "--batch", str(args.batch),
                       "--threads", str(args.threads), "--child-steps", str(count), "1" if resolution > 96 else "2"]
            done = subprocess.run(command, capture_output=True, text=True, check=True,
                                  env={**os.environ, "OMP_NUM_THREADS": str(args.threads)})
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    for resolution in args.resolutions:
        ours, theirs, theirs_cl = (next(r for r in results if r["impl"] == i and r["resolution"] == resolution)
                                   for i in ("effnet", "timm", "timm-cl"))
        print(f"B0 @ {resolution}px batch {args.batch}: effnet {ours['images_per_s']} img/s vs timm "
              f"{theirs['images_per_s']} img/s -> x{ours['images_per_s'] / theirs['images_per_s']:.2f} "
              f"(timm channels-last {theirs_cl['images_per_s']} img/s: "
              f"x{ours['images_per_s'] / theirs_cl['images_per_s']:.2f}); peak RSS "
              f"{ours['peak_rss_mib']} vs {theirs['peak_rss_mib']} / {theirs_cl['peak_rss_mib']} MiB")
    print(json.dumps({"load_avg": os.getloadavg()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
