"""Does zero-initialising the residual branches stop a short proxy from punishing depth? The demo's proxy (the
small-image B0 at 20 px, one epoch on 3,000 Fashion-MNIST images, held-out validation), baseline vs depth-2x vs
depth-4x, 3 seeds, with the `proxy` recipe as it is (zero-init on) and with zero-init off; paired by seed.

    .venv/bin/python benchmarks/zero_init.py --output runs/bench-zero-init [--seeds 3] [--json FILE]
Both studies resume from their folders; the table is rebuilt from their results.json."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

from effnet.errors import USER_ERRORS
from effnet.experiments import ScalingStudy, run_scaling_study
from effnet.experiments.smoke import smoke_baseline, smoke_proxy
from effnet.experiments.stats import paired_difference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("runs/bench-zero-init"))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--limit-train", type=int, help="fewer training images than the smoke proxy's (tests)")
    parser.add_argument("--baseline-width", type=float, default=1.0, help="width of the baseline (tests: smaller)")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here (refused if it exists)")
    args = parser.parse_args()
    if args.json is not None and args.json.exists():
        parser.exit(2, f"{parser.prog}: error: {args.json} already exists\n")
    proxy = smoke_proxy(args.data_dir, args.limit_train)
    runs = {}
    try:
        for name, zero in (("zero-init", True), ("tf-init", False)):
            overrides = (*proxy.overrides, f"zero_init_residual={str(zero).lower()}")
            study = ScalingStudy(smoke_baseline(args.baseline_width), budgets=(2.0, 4.0),
                                 methods=("depth",), seeds=args.seeds, proxy=replace(proxy, overrides=overrides))
            runs[name] = run_scaling_study(study, args.output / name, workers=args.workers, progress=False)
    except USER_ERRORS as error:
        parser.exit(2, f"{parser.prog}: error: {' '.join(str(error).split())}\n")
    rows = []
    for network in ("baseline@1", "depth@2", "depth@4"):
        method, budget = network.split("@")
        values = {name: {t["seed"]: t["val_top1"] for t in data["trials"]
                         if t["method"] == method and t["budget"] == float(budget)} for name, data in runs.items()}
        seeds = sorted(set(values["zero-init"]) & set(values["tf-init"]))
        on, off = [values["zero-init"][s] for s in seeds], [values["tf-init"][s] for s in seeds]
        rows.append({"network": network.replace("@", " ") + "x", "seeds": seeds, "zero_init_val_top1": on,
                     "tf_init_val_top1": off, "difference": paired_difference(on, off)})
    print("network      zero-init val top-1        TF init val top-1          difference [95% CI]")
    for row in rows:
        d = row["difference"]
        interval = "-" if d["low"] is None else f"[{d['low']:+.2f}, {d['high']:+.2f}]"
        on, off = row["zero_init_val_top1"], row["tf_init_val_top1"]
        print(f"{row['network']:<12} {sum(on) / len(on):6.2f} ({', '.join(f'{v:.1f}' for v in on):<16})  "
              f"{sum(off) / len(off):6.2f} ({', '.join(f'{v:.1f}' for v in off):<16})  {d['mean']:+.2f} {interval}")
    if args.json is not None:
        args.json.write_text(json.dumps({"proxy": proxy.to_dict(), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
