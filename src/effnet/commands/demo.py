"""`effnet demo` (what `make demo` runs, with `--study`): the B0-B7 table next to the paper's Table 2, the real
pretrained Lite0 classifying scikit-image's sample photos, and a smoke-scale scaling study on real Fashion-MNIST
(depth vs width vs resolution vs compound at twice the small-image baseline's MACs)."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from typing import Any

from torch import nn

from ..architecture.profiling import analyze
from ..architecture.scaling import compound, round_resolution
from ..architecture.zoo import get_spec, training_defaults
from ..deploy.prediction import predict
from ..errors import InputError, WeightsError
from ..experiments import ScalingStudy, run_scaling_study, study_baseline
from ..experiments.scaling_report import FIGURES
from ..experiments.smoke import SMOKE, smoke_proxy
from ..hub.loader import load_model
from . import SUMMARIES

SAMPLES = ("chelsea", "coffee", "rocket", "camera", "astronaut")
INSTALL = "pip install 'effnet[demo]' (from a clone: pip install -e '.[demo]')"


FULL_RESULT = "docs/results/full-size/README.md"


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("demo", help=SUMMARIES["demo"])
    parser.add_argument("--top-k", type=int, default=3, help="labels per photo (default 3)")
    parser.add_argument("--study", action="store_true",
                        help="also run the smoke-scale scaling study (about 10 minutes on 2 cores; resumes)")
    parser.add_argument("--study-output", default="runs/demo-scaling", help="its folder (default runs/demo-scaling)")
    parser.add_argument("--workers", type=int, default=2, help="the study's worker processes (default 2)")
    parser.add_argument("--data-dir", help="Fashion-MNIST's folder (default: Debian's dataset-fashion-mnist)")
    parser.set_defaults(func=run)


def smoke_study(output: str, workers: int, data_dir: str | None) -> int:
    """The reduced scaling study on real Fashion-MNIST: its table, paired intervals, convergence flags and figure,
    said plainly to be smoke-scale."""
    settings = SMOKE
    proxy = smoke_proxy(data_dir)
    study = ScalingStudy(study_baseline("efficientnet-b0-small", proxy.resolution), budgets=(2.0,),
                         seeds=settings["seeds"], proxy=proxy)
    print()
    print("Scaling study, SMOKE SCALE: efficientnet-b0-small at 20 px on real Fashion-MNIST, budget 2x its MACs,")
    print(f"depth vs width vs resolution vs compound; {settings['seeds']} seeds, 1 epoch on "
          f"{settings['limit_train']:,} training images, chosen on {settings['limit_val']:,} held-out validation "
          f"images, scored once on {settings['limit_test']:,} test images ({workers} workers; progress on stderr).")
    print("Far too small to rank the methods: it shows the pipeline end to end. The full-size result on this machine, "
          f"and where its runs stand, is in {FULL_RESULT}.")
    results = run_scaling_study(study, output, workers=workers, threads=1)
    print()
    print(f"{'method':<11}{'budget':>7}{'d':>6}{'d eff':>6}{'w':>6}{'px':>5}{'MMACs':>8}{'val top-1':>11}"
          f"{'test top-1':>12}{'improving':>11}")
    for row in results["summary"]:
        print(f"{row['method']:<11}{row['budget']:>6g}x{row['depth']:>6.2f}{row['effective_depth']:>6.2f}"
              f"{row['width']:>6.2f}{row['image_size']:>5}{row['macs'] / 1e6:>8.1f}{row['val_top1_mean']:>11.2f}"
              f"{row['test_top1_mean']:>12.2f}{row['still_improving']:>7} of {row['trials']}")
    print()
    print(f"compound against each single dimension ({results['score_split']} split, paired by seed, 95% CI, Holm):")
    for c in results["comparisons"]:
        interval = "no interval" if c["low"] is None else f"[{c['low']:+.2f}, {c['high']:+.2f}]"
        print(f"  vs {c['against']:<11} {c['mean']:+6.2f} points {interval:<18} -> {c['verdict']}")
    flagged = [r for r in results["summary"] if r["still_improving"]]
    if flagged:
        print("  still improving at the end of the schedule: the ranking may change with a longer schedule")
    print(f"table, figures and every trial: {output}/report.md, {output}/{FIGURES['fig8']}, {output}/results.json")
    return 0 if results["counts"]["done"] == results["counts"]["planned"] else 1


def paper_table2() -> dict[str, dict[str, Any]]:
    """Paper Table 2 rows for B0-B7 (top1, top5, params_M, flops_B), keyed by model name."""
    text = resources.files("effnet").joinpath("data", "paper_table2.json").read_text()
    data = json.loads(text)
    return {row[0]: dict(zip(data["columns"][1:], row[1:])) for row in data["rows"]}


def print_table() -> None:
    paper = paper_table2()
    print("EfficientNet B0-B7: official (hand-rounded) coefficients; params and multiply-adds counted from the spec")
    print("next to paper Table 2; then the exact compound values w=1.1^phi, d=1.2^phi and 224*1.15^phi px")
    print("(the official table: effnet.create_model('efficientnet-b3'); exact: effnet.create_model('efficientnet', "
          "phi=3))")
    header = (f"{'model':<17}{'width':>6}{'depth':>6}{'res':>5}{'drop':>6}{'params':>9}{'paper':>8}"
              f"{'GMACs':>7}{'paper':>7}{'top-1':>7}  |{'w exact':>8}{'d exact':>8}{'r exact':>8}")
    print(header)
    print("-" * len(header))
    for phi in range(8):
        name = f"efficientnet-b{phi}"
        spec = get_spec(name)
        depth, width, _ = spec.coefficients
        d_exact, w_exact, r_exact = compound(phi)
        row, counts = paper[name], analyze(spec)
        dropout = training_defaults(spec).dropout  # a training default of the name, not a spec field
        print(f"{name:<17}{width:>6.1f}{depth:>6.1f}{spec.resolution:>5}{dropout:>6.1f}"
              f"{counts.params / 1e6:>8.2f}M{row['params_M']:>7g}M{counts.macs / 1e9:>7.2f}{row['flops_B']:>6g}B"
              f"{row['top1']:>7.1f}  |{w_exact:>8.3f}{d_exact:>8.3f}{round_resolution(224, r_exact):>8}")
    print("params/GMACs: ours, exact (params equal timm's and torchvision's); paper: Table 2 as printed (rounded);")
    print("top-1: paper Table 2 ImageNet accuracy.")


def sample_photos() -> dict[str, Any] | None:
    """scikit-image's bundled sample photos (no download), or None when scikit-image is missing."""
    try:
        from skimage import data
    except ImportError:
        return None
    return {name: getattr(data, name)() for name in SAMPLES}


def sample_predictions(photos: dict[str, Any], top_k: int) -> tuple[nn.Module, list[dict[str, Any]]]:
    """The real pretrained Lite0 on the sample photos, through the same loader and `predict` as everything else."""
    model = load_model("efficientnet-lite0", pretrained=True)
    return model, predict(model, list(photos.values()), top_k=max(1, top_k))


def classify_samples(top_k: int) -> int:
    photos = sample_photos()
    if photos is None:
        print(f"effnet: error: the photo demo needs scikit-image: {INSTALL}", file=sys.stderr)
        return 2
    try:
        model, results = sample_predictions(photos, top_k)
    except (InputError, WeightsError) as error:
        print(f"effnet: error: {error} (everything for the demo: {INSTALL})", file=sys.stderr)
        return 2
    pre = model.preprocessing
    print()
    print(f"EfficientNet-Lite0, real ImageNet weights ({model.weights_origin['origin']}); input {pre.input_size}px, "
          f"crop {pre.crop_pct:g}, {pre.interpolation}; top-{max(1, top_k)} labels:")
    for name, result in zip(photos, results):
        labels = ", ".join(f"{row['label']} {row['prob']:.1%}" for row in result["top"])
        print(f"  skimage.data.{name + '()':<13} {labels}")
    return 0


def run(args: argparse.Namespace) -> int:
    print_table()
    code = classify_samples(args.top_k)
    if code or not args.study:
        return code
    return smoke_study(args.study_output, args.workers, args.data_dir)
