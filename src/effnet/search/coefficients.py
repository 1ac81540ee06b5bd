"""The paper's Section 4 method for alpha, beta, gamma. Step 1: fix phi = 1, grid-search alpha, beta, gamma >= 1
with alpha * beta^2 * gamma^2 ~= 2 (each candidate trained on the proxy schedule with several seeds) and keep the
best mean accuracy. Step 2: fix them and scale the baseline with phi = 1..N to make the family (spec files).

The default is the full grid, as in the paper; an Optuna pruner can stop weak candidates early for a cheaper
search (each epoch's validation accuracy is reported to it)."""

from __future__ import annotations

import itertools
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..engine import PRUNERS as ENGINE_PRUNERS
from ..engine import Engine, Plan, TrialContext, summarize
from ..errors import InputError
from ..experiments.plots import scatter
from ..outputs import atomic_path
from ..profiling import analyze
from ..scaling import scale_spec
from ..spec import NetSpec, SpecError
from ..trial import ProxySchedule, spec_metrics, train_trial

KIND = "coefficient-search"
OBJECTIVE = "effnet.search.coefficients:objective"
PRUNERS = ("none", *ENGINE_PRUNERS)
COEFFICIENTS, FAMILY, REPORT = "coefficients.json", "family", "report.md"
FIGURE = "candidates.png"


@dataclass(frozen=True)
class CoefficientSearch:
    """Step 1's grid: alpha, beta, gamma from `low` to `high` in steps of `step`, kept when alpha * beta^2 *
    gamma^2 is within `tolerance` of `target` (2: FLOPS double per unit of phi); every candidate trained at phi = 1
    with `seeds` seeds on the proxy schedule. `family` > 0 also writes phi = 1..family (Step 2)."""

    baseline: NetSpec
    step: float = 0.05
    low: float = 1.0
    high: float = 2.0
    tolerance: float = 0.1
    target: float = 2.0
    seeds: int = 1
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    family: int = 0
    pruner: str = "none"
    num_classes: int = 10

    def __post_init__(self) -> None:
        if not (0 < self.step <= 1) or not (1.0 <= self.low <= self.high <= 4.0):
            raise InputError(f"the grid needs 0 < step <= 1 and 1 <= low <= high <= 4, got step {self.step:g}, "
                             f"range {self.low:g}-{self.high:g}")
        if not 0 < self.tolerance < self.target:
            raise InputError(f"tolerance must be in (0, {self.target:g}), got {self.tolerance:g}")
        if self.pruner not in PRUNERS:
            raise InputError(f"pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        if self.seeds < 1 or self.family < 0:
            raise InputError("seeds must be >= 1 and family >= 0")
        if not self.candidates():
            raise InputError(f"no grid point satisfies |alpha * beta^2 * gamma^2 - {self.target:g}| <= "
                             f"{self.tolerance:g} (step {self.step:g}, range {self.low:g}-{self.high:g}); widen the "
                             "range, refine the step or raise the tolerance")

    def values(self) -> list[float]:
        count = int(round((self.high - self.low) / self.step)) + 1
        values = (round(self.low + i * self.step, 6) for i in range(count))
        return [value for value in values if value <= self.high + 1e-9]

    def candidates(self) -> list[tuple[float, float, float]]:
        """The grid points that keep alpha * beta^2 * gamma^2 within the tolerance of the target."""
        values = self.values()
        return [(a, b, g) for a, b, g in itertools.product(values, values, values)
                if abs(a * b * b * g * g - self.target) <= self.tolerance + 1e-12]

    def inputs(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_dict(), "step": self.step, "low": self.low, "high": self.high,
                "tolerance": self.tolerance, "target": self.target, "seeds": self.seeds,
                "proxy": self.proxy.to_dict(), "pruner": self.pruner, "num_classes": self.num_classes}

    def plan(self) -> Plan:
        trials = tuple({"alpha": a, "beta": b, "gamma": g, "seed": seed}
                       for seed in range(self.seeds) for a, b, g in self.candidates())
        return Plan(KIND, self.inputs(), trials, pruner=None if self.pruner == "none" else self.pruner)


def label(alpha: float, beta: float, gamma: float) -> str:
    return f"a{alpha:g}-b{beta:g}-g{gamma:g}"


def size_candidates(search: CoefficientSearch) -> dict[str, Any]:
    """Every candidate's phi = 1 network, with its real MACs ratio to the baseline after rounding."""
    base_macs = analyze(search.baseline, num_classes=search.num_classes).macs
    out = {}
    for a, b, g in search.candidates():
        spec = scale_spec(search.baseline, phi=1.0, alpha=a, beta=b, gamma=g, name=f"{search.baseline.name}-phi1-"
                          f"{label(a, b, g)}")
        metrics = spec_metrics(spec, search.num_classes)
        out[label(a, b, g)] = {"spec": spec.to_dict(), "product": round(a * b * b * g * g, 6),
                               "macs_ratio": round(metrics["macs"] / base_macs, 4), **metrics}
    return out


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """One candidate, one seed: train its phi = 1 network on the proxy schedule."""
    candidate = context.derived["candidates"][label(params["alpha"], params["beta"], params["gamma"])]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    result = train_trial(NetSpec.from_dict(candidate["spec"]), proxy, int(params["seed"]), context.folder,
                         on_epoch=context.report)
    return {"value": result["top1"], **{k: params[k] for k in ("alpha", "beta", "gamma", "seed")},
            "product": candidate["product"], "macs_ratio": candidate["macs_ratio"], "params": candidate["params"],
            "macs": candidate["macs"], **result}


def run_coefficient_search(search: CoefficientSearch, output: str | os.PathLike[str], *, storage: str | None = None,
                           workers: int = 1, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Step 1 (and with `family`, Step 2) in `output`; returns coefficients.json's content."""
    folder = Path(output)
    if search.pruner != "none" and search.proxy.validate != "every":  # the pruner judges every epoch
        search = replace(search, proxy=replace(search.proxy, validate="every"))
    engine = Engine(search.plan(), folder, storage=storage)
    engine.derived("proxy", search.proxy.to_dict)
    engine.derived("candidates", lambda: size_candidates(search))
    return engine.run_and_write(OBJECTIVE, lambda counts: write_outputs(engine, search, folder, counts),
                                workers=workers, threads=threads, progress=progress)


def write_outputs(engine: Engine, search: CoefficientSearch, folder: Path, counts: dict[str, int]) -> dict[str, Any]:
    candidates = engine.all_derived()["candidates"]
    scores: dict[str, list[float]] = defaultdict(list)
    pruned: dict[str, int] = defaultdict(int)
    for record in engine.records():
        key = label(record.params["alpha"], record.params["beta"], record.params["gamma"])
        if record.state == "complete":
            scores[key].append(float(record.metrics["top1"]))
        elif record.state == "pruned":
            pruned[key] += 1
    rows = []
    for key, info in candidates.items():
        a, b, g = (float(part[1:]) for part in key.split("-"))
        mean, std = summarize(scores[key]) if scores[key] else (None, None)
        rows.append({"alpha": a, "beta": b, "gamma": g, "product": info["product"], "macs_ratio": info["macs_ratio"],
                     "params": info["params"], "macs": info["macs"], "top1_mean": mean, "top1_std": std,
                     "trained": len(scores[key]), "pruned": pruned[key]})
    scored = [row for row in rows if row["top1_mean"] is not None and row["trained"] == search.seeds]
    data: dict[str, Any] = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts,
                            "alpha": None, "beta": None, "gamma": None,
                            "candidates": sorted(rows, key=lambda r: -(r["top1_mean"] or -1.0))}
    if scored:
        best = max(scored, key=lambda r: (r["top1_mean"], -r["macs"]))
        data.update(alpha=best["alpha"], beta=best["beta"], gamma=best["gamma"], best=best)
        if search.family:
            data["family"] = write_family(search.baseline, best["alpha"], best["beta"], best["gamma"], search.family,
                                          folder / FAMILY, search.num_classes)
    with atomic_path(folder / COEFFICIENTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False))
    if scored:
        points = {"candidate (mean top-1)": [(r["macs_ratio"], r["top1_mean"]) for r in scored]}
        scatter(points, folder / FIGURE, xlabel="real MACs ratio at phi = 1 (after rounding)",
                ylabel="top-1 accuracy (%)", title=f"Step-1 grid on {search.baseline.name}")
    with atomic_path(folder / REPORT) as temp:
        temp.write_text(markdown(data, search))
    return data


def write_family(baseline: NetSpec, alpha: float, beta: float, gamma: float, count: int, folder: Path,
                 num_classes: int = 10) -> list[dict[str, Any]]:
    """Step 2: phi = 1..count with the chosen coefficients, each as a spec file (`phiN.json`) with its profile,
    which every command accepts as a model."""
    folder.mkdir(parents=True, exist_ok=True)
    family = []
    for phi in range(1, count + 1):
        try:
            spec = scale_spec(baseline, phi=float(phi), alpha=alpha, beta=beta, gamma=gamma,
                              name=f"{baseline.name}-a{alpha:g}-b{beta:g}-g{gamma:g}-phi{phi}")
            profile = analyze(spec, num_classes=num_classes)
        except SpecError as error:
            raise InputError(f"the family stops before phi = {phi}: {error}") from None
        path = folder / f"phi{phi}.json"
        with atomic_path(path) as temp:
            temp.write_text(json.dumps({"spec": spec.to_dict(), "profile": profile.to_dict()}, indent=2))
        family.append({"phi": phi, "file": str(path.relative_to(folder.parent)), "resolution": spec.resolution,
                       "params": profile.params, "macs": profile.macs})
    return family


def markdown(data: dict[str, Any], search: CoefficientSearch) -> str:
    proxy = search.proxy
    lines = [f"# Step-1 coefficient search: {search.baseline.name}", "",
             f"Grid {search.low:g}..{search.high:g} step {search.step:g}, "
             f"|alpha beta^2 gamma^2 - {search.target:g}| <= {search.tolerance:g}: {len(data['candidates'])} "
             f"candidates, each trained at phi = 1 with {search.seeds} "
             f"seed(s) on `{proxy.data}` ({proxy.epochs} epoch(s), {proxy.limit_train or 'all'} training images, "
             f"{proxy.limit_val or 'all'} validation images, baseline at {search.baseline.resolution} px)"
             f"{', pruner ' + search.pruner if search.pruner != 'none' else ''}.", ""]
    if data["alpha"] is not None:
        counts = data["counts"]
        partial = (f" -- from the candidates finished so far ({counts['done']} of {counts['planned']} trials done)"
                   if counts["done"] < counts["planned"] else "")
        lines += [f"Chosen: **alpha = {data['alpha']:g}, beta = {data['beta']:g}, gamma = {data['gamma']:g}** "
                  f"(paper: 1.2, 1.1, 1.15){partial}.", ""]
    lines += ["| alpha | beta | gamma | a b^2 g^2 | real MACs ratio | top-1 mean +- std | trained | pruned |",
              "|---|---|---|---|---|---|---|---|"]
    for row in data["candidates"]:
        score = "-" if row["top1_mean"] is None else f"{row['top1_mean']:.2f} +- {row['top1_std']:.2f}"
        lines.append(f"| {row['alpha']:g} | {row['beta']:g} | {row['gamma']:g} | {row['product']:.3f} | "
                     f"{row['macs_ratio']:.3f} | {score} | {row['trained']} | {row['pruned']} |")
    if data.get("family"):
        lines += ["", "## Step 2: the family", "", "| phi | file | resolution | params | MACs |",
                  "|---|---|---|---|---|"]
        lines += [f"| {f['phi']} | `{f['file']}` | {f['resolution']} | {f['params']:,} | {f['macs'] / 1e6:.1f}M |"
                  for f in data["family"]]
    return "\n".join(lines) + "\n"


__all__ = ["KIND", "PRUNERS", "CoefficientSearch", "label", "objective", "run_coefficient_search", "size_candidates",
           "write_family"]
