"""The paper's scaling study (Section 3, Fig. 3 / 4 / 8, Table 7) on any baseline and dataset.

Each (method, budget, seed) is one trial: `fit_budget` sizes the baseline to the budget by depth, width,
resolution or compound scaling (by MACs, or by measured latency), the trainer trains it on the proxy schedule
(validating on a held-out part of the training set, scoring the test split once at the end), and its learning
curve, validation and test accuracy are recorded with its cost and its nominal and effective (d, w, r). The
unscaled baseline is trained too (method `baseline`, budget 1). Methods share seeds, so they are compared in pairs.
`fidelities` trains every network at other schedule lengths too, to see whether the ranking holds. The `grid` mode
trains width scaling under several fixed (depth, resolution) pairs (Fig. 4). Every trial runs on the experiment
engine (`effnet.engine`)."""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..architecture.budget import METHODS, fit_budget
from ..architecture.profiling import images_per_batch
from ..architecture.scaling import (
    ALPHA,
    BETA,
    GAMMA,
    REPEAT_ROUNDINGS,
    ScalingWarning,
    effective_coefficients,
    scale_spec,
)
from ..architecture.spec import NetSpec, SpecError
from ..architecture.zoo import SpecSource, get_spec
from ..engine import MAX_SEEDS, Engine, Plan, TrialContext, check_count, run_experiment
from ..errors import InputError, StudyFailing
from .extrapolation import judge, predictions
from .scaling_report import COST_TOLERANCE, FIGURES, NETWORK_FIELDS, REPORT, RESULTS, label, write_outputs
from .trial import ProxySchedule, check_data, curve_rise, spec_latency, spec_metrics, train_trial

KIND = "scaling-study"
BUDGET_METRICS = ("macs", "latency")
# Paper Fig. 4: width scaling of B0 under (depth, resolution) = (1, 1), (2, 1), (1, 1.3), (2, 1.3).
GRID_PAIRS = ((1.0, 1.0), (2.0, 1.0), (1.0, 1.3), (2.0, 1.3))
GRID_WIDTHS = (1.0, 1.4, 1.8, 2.2)
OBJECTIVE = "effnet.experiments.scaling:objective"
MAX_BUDGETS = 32


@dataclass(frozen=True)
class ScalingStudy:
    """What to compare: a baseline, MACs (or latency) budgets as multiples of it, scaling methods (and compound's
    alpha, beta, gamma, and how scaled repeats are rounded), seeds, the proxy schedule every trial is trained with
    (and `fidelities`, other schedule lengths in epochs to train every network at as well), and the rise of
    validation top-1 over a trial's last quarter beyond which it counts as still improving (`converged_within`).
    `num_classes` (the classifier every network is sized with) comes from the data when None."""

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
    num_classes: int | None = None
    repeat_rounding: str = "ceil"
    fidelities: tuple[int, ...] = ()
    converged_within: float = 0.5
    include_baseline: bool = True
    extrapolate: float | None = None  # after the study: predict each method at this budget, then train it there
    extrapolate_methods: tuple[str, ...] = ()  # default: compound and the best single dimension
    extrapolate_seeds: int = 2

    objective = OBJECTIVE
    outputs = (RESULTS, REPORT, *FIGURES.values())

    def __post_init__(self) -> None:
        check_count("seeds", self.seeds, MAX_SEEDS)
        if len(self.budgets) > MAX_BUDGETS or len(self.grid_pairs) * len(self.grid_widths) > MAX_BUDGETS ** 2:
            raise InputError(f"the study takes at most {MAX_BUDGETS} budgets (and {MAX_BUDGETS ** 2} grid points)")
        if len(self.fidelities) > 4:
            raise InputError("the study takes at most 4 fidelities")
        unknown = [method for method in self.methods if method not in METHODS]
        if unknown:
            raise InputError(f"unknown scaling method {unknown[0]!r}; choose from {', '.join(METHODS)}")
        if not self.methods and not self.grid:
            raise InputError("the study needs at least one method (or the grid)")
        if len(set(self.methods)) != len(self.methods) or len(set(self.budgets)) != len(self.budgets):
            raise InputError("methods and budgets must not repeat")
        for budget in self.budgets:
            if not budget > 1.0 or budget > 1e4:
                raise InputError(f"budget {budget:g}x is not in (1x, 10000x]; budgets are multiples > 1 of the "
                                 "baseline's cost")
        if not self.budgets and self.methods:
            raise InputError("the study needs at least one budget")
        if self.budget_metric not in BUDGET_METRICS:
            raise InputError(f"budget metric must be one of {', '.join(BUDGET_METRICS)}, got {self.budget_metric!r}")
        if self.repeat_rounding not in REPEAT_ROUNDINGS:
            raise InputError(f"repeat rounding must be one of {', '.join(REPEAT_ROUNDINGS)}")
        if any(not isinstance(e, int) or e < 1 or e == self.proxy.epochs for e in self.fidelities) or \
                len(set(self.fidelities)) != len(self.fidelities):
            raise InputError(f"fidelities must be distinct epoch counts other than the proxy's {self.proxy.epochs}")
        if not self.converged_within > 0:
            raise InputError("converged-within must be a positive number of points")
        if self.extrapolate is not None and not (math.isfinite(self.extrapolate) and
                                                 max(self.budgets, default=1.0) < self.extrapolate <= 1e4):
            largest = max(self.budgets, default=1.0)
            raise InputError(f"extrapolate must be a budget above the study's largest ({largest:g}x), got "
                             f"{self.extrapolate!r}")
        if any(m not in self.methods for m in self.extrapolate_methods):
            raise InputError("the methods to extrapolate must be among the study's methods")
        check_count("extrapolate-seeds", self.extrapolate_seeds, MAX_SEEDS)
        self.plan()  # refuses a plan of more trials than MAX_TRIALS before anything starts

    def inputs(self) -> dict[str, Any]:
        """What the study is made from (a study folder made from other inputs is refused)."""
        return {"baseline": self.baseline.to_dict(), "budgets": list(self.budgets), "methods": list(self.methods),
                "seeds": self.seeds, "proxy": self.proxy.to_dict(), "alpha": self.alpha, "beta": self.beta,
                "gamma": self.gamma, "budget_metric": self.budget_metric, "grid": self.grid,
                "grid_pairs": [list(pair) for pair in self.grid_pairs], "grid_widths": list(self.grid_widths),
                "num_classes": self.num_classes, "repeat_rounding": self.repeat_rounding,
                "fidelities": list(self.fidelities), "converged_within": self.converged_within,
                **({} if self.include_baseline else {"include_baseline": False})}

    def networks(self) -> list[dict[str, Any]]:
        """The parameters of each network the study trains (without seed and schedule)."""
        out: list[dict[str, Any]] = [{"method": "baseline", "budget": 1.0}] if self.include_baseline else []
        for budget in self.budgets:
            out += [{"method": method, "budget": budget} for method in self.methods]
        if self.grid:
            out += [{"method": "grid", "depth": d, "resolution": r, "width": w}
                    for d, r in self.grid_pairs for w in self.grid_widths]
        return out

    def plan(self) -> Plan:
        trials: list[dict[str, Any]] = []
        for seed in range(self.seeds):
            trials += [{**network, "seed": seed} for network in self.networks()]
            for epochs in self.fidelities:
                trials += [{**network, "seed": seed, "epochs": epochs} for network in self.networks()]
        return Plan(KIND, self.inputs(), tuple(trials))

    def prepare(self) -> ScalingStudy:
        """Check the data (one line and nothing written when it cannot be read) and size the classifier by it."""
        facts = check_data(self.proxy)
        return self if self.num_classes is not None else replace(self, num_classes=facts.classes)

    def derive(self, engine: Engine) -> None:
        engine.derived("data", lambda: check_data(self.proxy).to_dict())
        engine.derived("proxy", self.proxy.to_dict)
        engine.derived("networks", lambda: size_networks(self))

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
        return write_outputs(engine, engine.output, counts)


def study_baseline(source: SpecSource, resolution: int | None = None) -> NetSpec:
    """The baseline spec at the proxy resolution (the budgets are multiples of its cost there)."""
    spec = get_spec(source)
    return spec.replace(resolution=resolution) if resolution else spec


def size_networks(study: ScalingStudy) -> dict[str, Any]:
    """Every network the study trains, sized once with the task's classifier: {label: {spec, coefficient, fit
    error, nominal and effective (d, w, r), costs, latency}}."""
    base = study.baseline
    num_classes = study.num_classes or 10
    latency_cache: dict[str, float] = {}

    def latency(spec: NetSpec) -> float:
        key = spec.to_json()
        if key not in latency_cache:
            latency_cache[key] = spec_latency(spec, num_classes)
        return latency_cache[key]

    cost = latency if study.budget_metric == "latency" else None
    networks: dict[str, Any] = {"baseline": {"spec": base.to_dict(), "coefficient": 1.0, "error": 0.0,
                                             "depth": 1.0, "width": 1.0, "resolution": 1.0}}
    for budget in study.budgets:
        for method in study.methods:
            try:
                fit = fit_budget(base, f"{budget}x", method, alpha=study.alpha, beta=study.beta, gamma=study.gamma,
                                 cost=cost, metric=study.budget_metric, num_classes=num_classes,
                                 repeat_rounding=study.repeat_rounding)
            except SpecError as error:
                raise InputError(f"{method} scaling cannot reach {budget:g}x: {error}") from None
            if abs(fit.error) > COST_TOLERANCE:
                hint = ("; nearest repeat rounding may get closer"
                        if study.repeat_rounding == "ceil" and method in ("depth", "compound") else "")
                metric = "MACs" if study.budget_metric == "macs" else study.budget_metric
                warnings.warn(f"{method} scaling reaches {budget:g}x {metric} only within "
                              f"{fit.error:+.0%} (rounding leaves no closer network{hint}): its comparisons at this "
                              "budget will be of unequal cost", ScalingWarning, stacklevel=2)
            d0, w0, r0 = base.coefficients
            d, w, r = fit.spec.coefficients
            networks[f"{method}@{budget:g}x"] = {"spec": fit.spec.to_dict(), "coefficient": fit.coefficient,
                                                 "error": fit.error, "depth": round(d / d0, 6),
                                                 "width": round(w / w0, 6), "resolution": round(r / r0, 6)}
    if study.grid:
        for d, r in study.grid_pairs:
            for w in study.grid_widths:
                spec = scale_spec(base, depth=d, width=w, resolution=r, repeat_rounding=study.repeat_rounding)
                networks[label({"method": "grid", "depth": d, "resolution": r, "width": w})] = {
                    "spec": spec.to_dict(), "coefficient": w, "error": 0.0, "depth": d, "width": w,
                    "resolution": r}
    for network in networks.values():
        spec = NetSpec.from_dict(network["spec"])
        effective = effective_coefficients(spec, base)
        network.update(spec_metrics(spec, num_classes), image_size=spec.resolution, latency_ms=latency(spec),
                       effective_depth=effective["depth"], effective_width=effective["width"],
                       effective_resolution=effective["resolution"])
    return networks


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """One trial: train the sized network of `params` with the study's proxy schedule (at `params["epochs"]` for
    another fidelity) and seed."""
    network = context.derived["networks"][label(params)]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    epochs = int(params.get("epochs", proxy.epochs))
    spec = NetSpec.from_dict(network["spec"])
    result = train_trial(spec, proxy.with_epochs(epochs), int(params["seed"]), context.folder)
    record = {"method": params["method"], "budget": params.get("budget", 1.0), "seed": params["seed"],
              "schedule_epochs": epochs, **{name: network[name] for name in NETWORK_FIELDS},
              "fit_error": network["error"], **result, "curve_rise": curve_rise(result["curve"])}
    return {"value": result["val_top1"], **record}


def run_scaling_study(study: ScalingStudy, output: str | os.PathLike[str], *, storage: str | None = None,
                      workers: int = 1, threads: int = 1, progress: bool = True,
                      overwrite: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Run (or resume) the study in `output` and write its results, report and figures there; returns
    results.json's content. Stopped early (Ctrl-C), it still writes them from the trials finished so far. With
    `extrapolate`, once every trial has finished, each chosen method is predicted at that budget from its 1x-4x
    results, the prediction written to the report, and then trained there (`output/extrapolate-<B>x`); the report
    compares prediction and measurement as the measurements come in."""
    options = {"storage": storage, "workers": workers, "threads": threads, "progress": progress,
               "overwrite": overwrite, "max_failures": max_failures}
    check_extrapolation(study)
    data = run_experiment(study, output, **options)
    if study.extrapolate is None or data["counts"]["done"] < data["counts"]["planned"]:
        return data
    main = [r for r in data["trials"] if r["schedule_epochs"] == study.proxy.epochs]
    methods = study.extrapolate_methods or extrapolation_methods(main, study)
    target = replace(study, budgets=(study.extrapolate,), methods=methods, seeds=study.extrapolate_seeds,
                     fidelities=(), grid=False, include_baseline=False, extrapolate=None, extrapolate_methods=())
    sized = size_networks(target.prepare())  # what the larger study will train, sized before any of it trains
    predicted = predictions(main, {m: sized[label({"method": m, "budget": study.extrapolate})]["macs"]
                                   for m in methods})
    engine = Engine(study.prepare().plan(), output, storage=storage, outputs=study.outputs)

    def record(trials: list[dict[str, Any]]) -> dict[str, Any]:  # the prediction, and what is measured so far
        result = {"budget": study.extrapolate, "methods": list(methods), "fit": "power law in MACs, per seed",
                  "methods_results": {m: {**predicted[m], **judge(predicted[m], [r["val_top1"] for r in trials
                                                                                 if r["method"] == m])}
                                      for m in methods}}
        return write_outputs(engine, Path(output), data["counts"], extrapolation=result)

    larger = Path(output) / f"extrapolate-{study.extrapolate:g}x"
    record(_finished_trials(larger))  # the prediction is written before the larger networks train (or resume)
    try:
        measured = run_experiment(target, larger, **options)
    except (KeyboardInterrupt, StudyFailing):
        record(_finished_trials(larger))
        raise
    return record(measured["trials"])


def _finished_trials(folder: Path) -> list[dict[str, Any]]:
    """The trials a stopped study had finished, from the results.json it wrote when it stopped (none without)."""
    try:
        return list(json.loads((folder / RESULTS).read_text())["trials"])
    except (OSError, ValueError, KeyError, TypeError):
        return []


def check_extrapolation(study: ScalingStudy) -> None:
    """Size the networks the extrapolation may train before the study starts (in MACs, whatever the budget metric):
    a budget a method cannot reach, or a network too large for one image's activations, is refused now, not after
    hours of the study's trials."""
    if study.extrapolate is None:
        return
    methods = study.extrapolate_methods or tuple(m for m in study.methods if m in METHODS)
    for method in methods:
        try:
            fit = fit_budget(study.baseline, f"{study.extrapolate}x", method, alpha=study.alpha, beta=study.beta,
                             gamma=study.gamma, num_classes=study.num_classes or 10,
                             repeat_rounding=study.repeat_rounding)  # in MACs: measuring latency takes minutes
            images_per_batch(fit.spec, fit.spec.resolution, 1)
        except SpecError as error:
            raise InputError(f"extrapolate: {method} scaling cannot reach {study.extrapolate:g}x ({error}); choose a "
                             f"smaller budget or leave {method} out of the methods to extrapolate") from None


def extrapolation_methods(rows: list[dict[str, Any]], study: ScalingStudy) -> tuple[str, ...]:
    """Compound scaling and the single dimension with the best mean validation top-1 at the largest budget."""
    largest = max(study.budgets)
    means = {}
    for method in ("depth", "width", "resolution"):
        values = [r["val_top1"] for r in rows if r["method"] == method and r["budget"] == largest]
        if values and method in study.methods:
            means[method] = sum(values) / len(values)
    chosen = [m for m in ("compound",) if m in study.methods]
    if means:
        chosen.append(max(means, key=means.get))
    return tuple(chosen)


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


__all__ = ["BUDGET_METRICS", "GRID_PAIRS", "GRID_WIDTHS", "KIND", "NETWORK_FIELDS", "ScalingStudy",
           "check_extrapolation", "label", "objective", "parse_budgets", "run_scaling_study", "size_networks",
           "study_baseline"]
