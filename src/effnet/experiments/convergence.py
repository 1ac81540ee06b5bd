"""Is the proxy long enough? Before a long study, train its baseline with the proxy schedule and with twice the
schedule, on the same seeds, and compare their validation accuracy: if doubling the schedule still changes the
baseline by more than `tolerance` points, the proxy measures under-training, and a study's ranking of scaling
methods may say more about the schedule than about scaling. Also records what a trial costs, for estimating a
study's CPU time before it starts."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..architecture.spec import NetSpec
from ..engine import MAX_SEEDS, Engine, Plan, TrialContext, check_count, run_experiment
from ..errors import InputError
from ..outputs import atomic_path
from .stats import paired_difference
from .trial import ProxySchedule, check_data, curve_rise, spec_metrics, train_trial

KIND = "convergence-check"
OBJECTIVE = "effnet.experiments.convergence:objective"
RESULTS, REPORT = "results.json", "report.md"


@dataclass(frozen=True)
class ConvergenceCheck:
    """The baseline, its proxy schedule (`proxy.epochs` is the schedule to check), the seeds, and the largest change
    of validation top-1 (points) that doubling the schedule may make for the proxy to count as converged."""

    baseline: NetSpec
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    seeds: int = 2
    tolerance: float = 0.5
    factor: int = 2
    num_classes: int | None = None

    objective = OBJECTIVE
    outputs = (RESULTS, REPORT)

    def __post_init__(self) -> None:
        check_count("seeds", self.seeds, MAX_SEEDS)
        check_count("factor", self.factor, 16, low=2)
        if not (math.isfinite(self.tolerance) and self.tolerance > 0):
            raise InputError(f"the convergence check needs a positive tolerance, got {self.tolerance!r}")

    @property
    def schedules(self) -> tuple[int, int]:
        return self.proxy.epochs, self.proxy.epochs * self.factor

    def inputs(self) -> dict[str, Any]:
        return {"baseline": self.baseline.to_dict(), "proxy": self.proxy.to_dict(), "seeds": self.seeds,
                "tolerance": self.tolerance, "factor": self.factor, "num_classes": self.num_classes}

    def plan(self) -> Plan:
        return Plan(KIND, self.inputs(), tuple({"epochs": epochs, "seed": seed} for epochs in self.schedules
                                               for seed in range(self.seeds)))

    def prepare(self) -> ConvergenceCheck:
        facts = check_data(self.proxy)
        return self if self.num_classes is not None else replace(self, num_classes=facts.classes)

    def derive(self, engine: Engine) -> None:
        engine.derived("proxy", self.proxy.to_dict)
        engine.derived("baseline", self.baseline.to_dict)

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
        return write_outputs(engine, self, engine.output, counts)


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """The baseline at one schedule length and seed."""
    proxy = ProxySchedule.from_dict(context.derived["proxy"]).with_epochs(int(params["epochs"]))
    spec = NetSpec.from_dict(context.derived["baseline"])
    result = train_trial(spec, proxy, int(params["seed"]), context.folder)
    return {"value": result["val_top1"], **params, **result, "curve_rise": curve_rise(result["curve"])}


def run_convergence_check(check: ConvergenceCheck, output: str | os.PathLike[str], *, storage: str | None = None,
                          workers: int = 1, threads: int = 1, progress: bool = True,
                          overwrite: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Run (or resume) the check in `output`; writes results.json and report.md, returns results.json's data."""
    return run_experiment(check, output, storage=storage, workers=workers, threads=threads, progress=progress,
                          overwrite=overwrite, max_failures=max_failures)


def summarize_check(rows: list[dict[str, Any]], check: ConvergenceCheck) -> dict[str, Any]:
    """The paired change of validation top-1 from the proxy schedule to the longer one, and the verdict."""
    short, long = check.schedules
    by = {(r["epochs"], r["seed"]): r for r in rows}
    seeds = sorted(seed for seed in range(check.seeds) if (short, seed) in by and (long, seed) in by)
    change = paired_difference([by[(long, s)]["val_top1"] for s in seeds], [by[(short, s)]["val_top1"] for s in seeds])
    if not seeds:
        verdict = "not measured yet"
    elif change["high"] is None:
        verdict = (f"one seed: doubling changed val top-1 by {change['mean']:+.2f} points "
                   f"({'within' if abs(change['mean']) < check.tolerance else 'beyond'} {check.tolerance:g}); "
                   "a second seed is needed to say how sure that is")
    else:
        tol = check.tolerance
        per_seed = ", ".join(f"{by[(long, s)]['val_top1'] - by[(short, s)]['val_top1']:+.2f}" for s in seeds)
        measured = (f"doubling the schedule changed val top-1 by {change['mean']:+.2f} points (95% CI "
                    f"{change['low']:+.2f} to {change['high']:+.2f}, {len(seeds)} seeds: {per_seed}); "
                    f"tolerance {tol:g}")
        if within_interval(change, tol):
            verdict = f"converged: {measured}; the whole interval is within the tolerance"
        elif abs(change["mean"]) < tol:
            verdict = (f"converged by the mean, not shown by the interval: {measured}; more seeds would narrow the "
                       "interval")
        else:
            verdict = f"NOT converged: {measured}"
    cost = {str(epochs): round(sum(r["seconds"] for r in rows if r["epochs"] == epochs)
                               / max(1, sum(r["epochs"] == epochs for r in rows)), 1) for epochs in (short, long)}
    return {"seeds": seeds, "change": change, "verdict": verdict, "seconds_per_trial": cost,
            "converged": bool(seeds) and change["high"] is not None and abs(change["mean"]) < check.tolerance,
            "converged_interval": bool(seeds) and change["high"] is not None
            and within_interval(change, check.tolerance)}


def within_interval(change: dict[str, Any], tolerance: float) -> bool:
    """Whether the whole 95% interval of the change lies within +-`tolerance`: convergence shown, not only by the
    mean."""
    return -tolerance < change["low"] and change["high"] < tolerance


def write_outputs(engine: Engine, check: ConvergenceCheck, folder: Path, counts: dict[str, int]) -> dict[str, Any]:
    rows = [dict(r.metrics) for r in engine.records() if r.state == "complete"]
    for row in rows:
        row.pop("value", None)
    summary = summarize_check(rows, check)
    baseline = check.baseline
    data = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts,
            "baseline": {"name": baseline.name, "resolution": baseline.resolution,
                         **spec_metrics(baseline, check.num_classes or 10)},
            "trials": rows, **summary}
    with atomic_path(folder / RESULTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    with atomic_path(folder / REPORT) as temp:
        temp.write_text(markdown(data))
    return data


def markdown(data: dict[str, Any]) -> str:
    """The report, from results.json's data alone (so `effnet report` can write it again)."""
    inputs, baseline, rows, counts = data["inputs"], data["baseline"], data["trials"], data["counts"]
    proxy, short = inputs["proxy"], inputs["proxy"]["epochs"]
    long = short * inputs["factor"]
    lines = [f"# Convergence check: {baseline['name']} at {baseline['resolution']} px", "",
             f"Data `{proxy['data']}` (validation: {proxy.get('val_split', 'dataset')} split), recipe "
             f"`{proxy['recipe']}`, {proxy.get('limit_train') or 'all'} training images; the proxy schedule "
             f"({short} epochs) against {long} epochs, {inputs['seeds']} seed(s), paired by seed.", "",
             f"**{data['verdict']}**", "",
             "| epochs | seed | val top-1 | test top-1 | rise over the last quarter | steps | seconds |",
             "|---|---|---|---|---|---|---|"]
    for row in sorted(rows, key=lambda r: (r["epochs"], r["seed"])):
        test = "-" if row.get("test_top1") is None else f"{row['test_top1']:.2f}"
        rise = "-" if row.get("curve_rise") is None else f"{row['curve_rise']:+.2f}"
        lines.append(f"| {row['epochs']} | {row['seed']} | {row['val_top1']:.2f} | {test} | {rise} | "
                     f"{row['steps']} | {row['seconds']:.0f} |")
    lines += ["", f"Trials: {counts['done']} of {counts['planned']} done. Mean seconds per trial: "
              + ", ".join(f"{e} epochs {s:.0f} s" for e, s in data["seconds_per_trial"].items()) + ".",
              "Test top-1 is reported for the record only; the verdict uses validation accuracy."]
    return "\n".join(lines) + "\n"


__all__ = ["KIND", "ConvergenceCheck", "markdown", "objective", "run_convergence_check", "summarize_check"]
