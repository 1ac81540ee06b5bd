"""Train several networks the same way and compare them: the same proxy schedule, recipe and seeds for each,
optionally sized first to the same MACs as one of them (`fit_budget`). This is how a searched network meets
hand-designed baselines of its cost, and how a family's members are checked against each other."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..budget import METHODS, fit_budget
from ..engine import Engine, Plan, TrialContext, summarize
from ..errors import InputError
from ..outputs import atomic_path
from ..spec import NetSpec, SpecError
from ..trial import ProxySchedule, spec_latency, spec_metrics, train_trial
from ..zoo import get_spec
from .plots import line_plot

KIND = "comparison"
OBJECTIVE = "effnet.experiments.compare:objective"
RESULTS, REPORT, FIGURE = "results.json", "report.md", "accuracy_vs_macs.png"


@dataclass(frozen=True)
class Comparison:
    """Named networks, the seeds and the proxy schedule; with `size_to`, every other network is first scaled by
    `size_method` to that network's MACs (at the proxy resolution)."""

    models: dict[str, NetSpec]
    seeds: int = 3
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    size_to: str | None = None
    size_method: str = "width"
    num_classes: int = 10

    def __post_init__(self) -> None:
        if len(self.models) < 1:
            raise InputError("a comparison needs at least one model")
        if self.size_to is not None and self.size_to not in self.models:
            raise InputError(f"size-to names {self.size_to!r}, which is not one of the models")
        if self.size_method not in METHODS:
            raise InputError(f"size method must be one of {', '.join(METHODS)}")
        if self.seeds < 1:
            raise InputError("seeds must be >= 1")

    def inputs(self) -> dict[str, Any]:
        return {"models": {name: spec.to_dict() for name, spec in self.models.items()}, "seeds": self.seeds,
                "proxy": self.proxy.to_dict(), "size_to": self.size_to, "size_method": self.size_method,
                "num_classes": self.num_classes}

    def plan(self) -> Plan:
        return Plan(KIND, self.inputs(), tuple({"model": name, "seed": seed} for seed in range(self.seeds)
                                               for name in self.models))


def model_spec(source: str, resolution: int | None) -> NetSpec:
    """A model for the comparison: a spec file keeps its own resolution; a registered name takes the proxy's."""
    spec = get_spec(source)
    is_file = Path(source).is_file()
    return spec.replace(resolution=resolution) if resolution and not is_file else spec


def size_models(comparison: Comparison) -> dict[str, Any]:
    """Every model as trained: sized to the reference's MACs when asked, with its cost and measured latency."""
    out = {}
    target = None
    if comparison.size_to is not None:
        target = spec_metrics(comparison.models[comparison.size_to], comparison.num_classes)["macs"]
    for name, spec in comparison.models.items():
        coefficient, error = None, None
        if target is not None and name != comparison.size_to:
            try:
                fit = fit_budget(spec, float(target), comparison.size_method, num_classes=comparison.num_classes)
            except SpecError as failure:
                raise InputError(f"{name} cannot be sized to {target / 1e6:.2f} MMACs: {failure}") from None
            spec, coefficient, error = fit.spec, fit.coefficient, fit.error
        out[name] = {"spec": spec.to_dict(), **spec_metrics(spec, comparison.num_classes),
                     "latency_ms": spec_latency(spec, comparison.num_classes), "coefficient": coefficient,
                     "fit_error": error, "resolution": spec.resolution}
    return out


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    model = context.derived["models"][params["model"]]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    result = train_trial(NetSpec.from_dict(model["spec"]), proxy, int(params["seed"]), context.folder)
    return {"value": result["top1"], "model": params["model"], "seed": params["seed"],
            **{k: model[k] for k in ("params", "macs", "activations", "latency_ms", "resolution")}, **result}


def run_comparison(comparison: Comparison, output: str | os.PathLike[str], *, storage: str | None = None,
                   workers: int = 1, threads: int = 1, progress: bool = True) -> dict[str, Any]:
    """Run (or resume) the comparison in `output` and write results.json, report.md and the figure there;
    returns results.json's content."""
    folder = Path(output)
    engine = Engine(comparison.plan(), folder, storage=storage)
    engine.derived("proxy", comparison.proxy.to_dict)
    models = engine.derived("models", lambda: size_models(comparison))
    return engine.run_and_write(OBJECTIVE, lambda counts: write_outputs(engine, comparison, models, folder, counts),
                                workers=workers, threads=threads, progress=progress)


def write_outputs(engine: Engine, comparison: Comparison, models: dict[str, dict[str, Any]], folder: Path,
                  counts: dict[str, int]) -> dict[str, Any]:
    """results.json, report.md and the figure from the finished trials; returns results.json's data."""
    rows = [dict(r.metrics) for r in engine.records() if r.state == "complete"]
    summary = []
    for name, model in models.items():
        scores = [r["top1"] for r in rows if r["model"] == name]
        mean, std = summarize(scores) if scores else (None, None)
        summary.append({"model": name, "trials": len(scores), "top1_mean": mean, "top1_std": std,
                        "top5_mean": summarize([r["top5"] for r in rows if r["model"] == name])[0] if scores else None,
                        **{k: model.get(k) for k in ("params", "macs", "activations", "latency_ms", "resolution",
                                                     "coefficient", "fit_error")}})
    data = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts, "trials": rows,
            "summary": summary}
    with atomic_path(folder / RESULTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    scored = [s for s in summary if s["top1_mean"] is not None]
    if scored:
        line_plot({s["model"]: [(s["macs"] / 1e6, s["top1_mean"], s["top1_std"])] for s in scored},
                  folder / FIGURE, xlabel="MMACs", ylabel="top-1 (%)", title="Same schedule, same seeds")
    proxy = comparison.proxy
    sizing = f"; sized by {comparison.size_method} to {comparison.size_to}'s MACs" if comparison.size_to else ""
    lines = ["# Comparison at the same schedule and seeds", "",
             f"{comparison.seeds} seed(s); proxy: {proxy.epochs} epoch(s) on {proxy.limit_train or 'all'} training "
             f"images, scored on {proxy.limit_val or 'all'} validation images{sizing}.", "",
             "| model | top-1 mean +- std | top-5 | params | MMACs | latency ms | px | trials |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        score = "-" if s["top1_mean"] is None else f"{s['top1_mean']:.2f} +- {s['top1_std']:.2f}"
        top5 = "-" if s["top5_mean"] is None else f"{s['top5_mean']:.2f}"
        lines.append(f"| {s['model']} | {score} | {top5} | {s['params'] / 1e6:.2f}M | {s['macs'] / 1e6:.2f} | "
                     f"{s['latency_ms']:.2f} | {s['resolution']} | {s['trials']} |")
    with atomic_path(folder / REPORT) as temp:
        temp.write_text("\n".join(lines) + "\n")
    return data


__all__ = ["KIND", "Comparison", "model_spec", "run_comparison", "size_models"]
