"""The paper's scaling study (Section 3, Fig. 3 / 4 / 8, Table 7) on any baseline and dataset.

Each (method, budget, seed) is one trial: `fit_budget` sizes the baseline to the budget by depth, width,
resolution or compound scaling (by MACs, or by measured latency), the trainer trains it on the proxy schedule,
and its final validation accuracy is recorded with its cost. The unscaled baseline is trained too (method
`baseline`, budget 1). The `grid` mode trains width scaling under several fixed (depth, resolution) pairs
(Fig. 4). Every trial runs on the experiment engine (`effnet.engine`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..budget import METHODS, fit_budget
from ..engine import Engine, Plan, TrialContext
from ..errors import InputError
from ..scaling import ALPHA, BETA, GAMMA, scale_spec
from ..spec import NetSpec, SpecError
from ..trial import ProxySchedule, spec_latency, spec_metrics, train_trial
from ..zoo import SpecSource, get_spec
from .scaling_report import write_outputs

KIND = "scaling-study"
BUDGET_METRICS = ("macs", "latency")
# Paper Fig. 4: width scaling of B0 under (depth, resolution) = (1, 1), (2, 1), (1, 1.3), (2, 1.3).
GRID_PAIRS = ((1.0, 1.0), (2.0, 1.0), (1.0, 1.3), (2.0, 1.3))
GRID_WIDTHS = (1.0, 1.4, 1.8, 2.2)
OBJECTIVE = "effnet.experiments.scaling:objective"


@dataclass(frozen=True)
class ScalingStudy:
    """What to compare: a baseline, MACs (or latency) budgets as multiples of it, scaling methods (and compound's
    alpha, beta, gamma), seeds, and the proxy schedule every trial is trained with."""

    baseline: NetSpec
    budgets: tuple[float, ...] = (2.0, 4.0)
    methods: tuple[str, ...] = METHODS
    seeds: int = 1
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    alpha: float = ALPHA
    beta: float = BETA
    gamma: float = GAMMA
    budget_metric: str = "macs"
    grid: bool = False
    grid_pairs: tuple[tuple[float, float], ...] = GRID_PAIRS
    grid_widths: tuple[float, ...] = GRID_WIDTHS
    num_classes: int = 10

    def __post_init__(self) -> None:
        unknown = [method for method in self.methods if method not in METHODS]
        if unknown:
            raise InputError(f"unknown scaling method {unknown[0]!r}; choose from {', '.join(METHODS)}")
        if not self.methods and not self.grid:
            raise InputError("the study needs at least one method (or the grid)")
        if len(set(self.methods)) != len(self.methods) or len(set(self.budgets)) != len(self.budgets):
            raise InputError("methods and budgets must not repeat")
        for budget in self.budgets:
            if not budget > 1.0:
                raise InputError(f"budget {budget:g}x is not above the baseline (1x); budgets are multiples > 1 of "
                                 "the baseline's cost")
        if not self.budgets and self.methods:
            raise InputError("the study needs at least one budget")
        if self.seeds < 1:
            raise InputError(f"seeds must be >= 1, got {self.seeds}")
        if self.budget_metric not in BUDGET_METRICS:
            raise InputError(f"budget metric must be one of {', '.join(BUDGET_METRICS)}, got {self.budget_metric!r}")

    def inputs(self) -> dict[str, Any]:
        """What the study is made from (a study folder made from other inputs is refused)."""
        return {"baseline": self.baseline.to_dict(), "budgets": list(self.budgets), "methods": list(self.methods),
                "seeds": self.seeds, "proxy": self.proxy.to_dict(), "alpha": self.alpha, "beta": self.beta,
                "gamma": self.gamma, "budget_metric": self.budget_metric, "grid": self.grid,
                "grid_pairs": [list(pair) for pair in self.grid_pairs], "grid_widths": list(self.grid_widths),
                "num_classes": self.num_classes}

    def plan(self) -> Plan:
        trials: list[dict[str, Any]] = []
        for seed in range(self.seeds):
            trials.append({"method": "baseline", "budget": 1.0, "seed": seed})
            for budget in self.budgets:
                trials += [{"method": method, "budget": budget, "seed": seed} for method in self.methods]
            if self.grid:
                trials += [{"method": "grid", "depth": d, "resolution": r, "width": w, "seed": seed}
                           for d, r in self.grid_pairs for w in self.grid_widths]
        return Plan(KIND, self.inputs(), tuple(trials))


def study_baseline(source: SpecSource, resolution: int | None = None) -> NetSpec:
    """The baseline spec at the proxy resolution (the budgets are multiples of its cost there)."""
    spec = get_spec(source)
    return spec.replace(resolution=resolution) if resolution else spec


def label(params: dict[str, Any]) -> str:
    """The name of a trial's network, shared by its seeds: `width@2x`, `baseline`, `grid-d2-r1.3-w1.8`."""
    if params["method"] == "grid":
        return f"grid-d{params['depth']:g}-r{params['resolution']:g}-w{params['width']:g}"
    if params["method"] == "baseline":
        return "baseline"
    return f"{params['method']}@{params['budget']:g}x"


def size_networks(study: ScalingStudy) -> dict[str, Any]:
    """Every network the study trains, sized once: {label: {spec, coefficient, fit error, costs, latency}}."""
    base = study.baseline
    latency_cache: dict[str, float] = {}

    def latency(spec: NetSpec) -> float:
        key = spec.to_json()
        if key not in latency_cache:
            latency_cache[key] = spec_latency(spec, study.num_classes)
        return latency_cache[key]

    cost = latency if study.budget_metric == "latency" else None
    networks: dict[str, Any] = {"baseline": {"spec": base.to_dict(), "coefficient": 1.0, "error": 0.0,
                                             "depth": 1.0, "width": 1.0, "resolution": 1.0}}
    for budget in study.budgets:
        for method in study.methods:
            try:
                fit = fit_budget(base, f"{budget}x", method, alpha=study.alpha, beta=study.beta, gamma=study.gamma,
                                 cost=cost, metric=study.budget_metric, num_classes=study.num_classes)
            except SpecError as error:
                raise InputError(f"{method} scaling cannot reach {budget:g}x: {error}") from None
            d0, w0, r0 = base.coefficients
            d, w, r = fit.spec.coefficients
            networks[f"{method}@{budget:g}x"] = {"spec": fit.spec.to_dict(), "coefficient": fit.coefficient,
                                                 "error": fit.error, "depth": round(d / d0, 6),
                                                 "width": round(w / w0, 6), "resolution": round(r / r0, 6)}
    if study.grid:
        for d, r in study.grid_pairs:
            for w in study.grid_widths:
                spec = scale_spec(base, depth=d, width=w, resolution=r)
                networks[label({"method": "grid", "depth": d, "resolution": r, "width": w})] = {
                    "spec": spec.to_dict(), "coefficient": w, "error": 0.0, "depth": d, "width": w,
                    "resolution": r}
    for network in networks.values():
        spec = NetSpec.from_dict(network["spec"])
        network.update(spec_metrics(spec, study.num_classes), image_size=spec.resolution,
                       latency_ms=latency(spec))
    return networks


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """One trial: train the sized network of `params` with the study's proxy schedule and seed."""
    network = context.derived["networks"][label(params)]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    spec = NetSpec.from_dict(network["spec"])
    result = train_trial(spec, proxy, int(params["seed"]), context.folder, on_epoch=context.report)
    record = {"method": params["method"], "budget": params.get("budget", 1.0), "seed": params["seed"],
              "depth": network["depth"], "width": network["width"], "resolution": network["resolution"],
              "image_size": network["image_size"], "params": network["params"], "macs": network["macs"],
              "activations": network["activations"], "latency_ms": network["latency_ms"],
              "fit_error": network["error"], **result}
    return {"value": result["top1"], **record}


def run_scaling_study(study: ScalingStudy, output: str | os.PathLike[str], *, storage: str | None = None,
                      workers: int = 1, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the study in `output` and write its results, report and figures there; returns
    results.json's content. Stopped early (Ctrl-C), it still writes them from the trials finished so far."""
    engine = Engine(study.plan(), output, storage=storage)
    engine.derived("proxy", study.proxy.to_dict)
    engine.derived("networks", lambda: size_networks(study))
    return engine.run_and_write(OBJECTIVE, lambda counts: write_outputs(engine, Path(output), counts),
                                workers=workers, threads=threads, progress=progress)


def parse_budgets(items: Sequence[str] | str) -> tuple[float, ...]:
    """`"2x,4x"` or ["2x", "4"] -> (2.0, 4.0)."""
    parts = items.split(",") if isinstance(items, str) else list(items)
    budgets = []
    for part in parts:
        text = str(part).strip().lower().removesuffix("x")
        try:
            budgets.append(float(text))
        except ValueError:
            raise InputError(f"cannot read budget {part!r}; use multiples of the baseline such as 2x,4x") from None
    return tuple(budgets)


__all__ = ["BUDGET_METRICS", "GRID_PAIRS", "GRID_WIDTHS", "KIND", "ScalingStudy", "label", "objective",
           "parse_budgets", "run_scaling_study", "size_networks", "study_baseline"]
