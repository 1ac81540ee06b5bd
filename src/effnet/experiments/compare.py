"""Train several networks the same way and compare them: the same proxy schedule, recipe and seeds for each,
optionally sized first to the same MACs as one of them (`fit_budget`). This is how a searched network meets
hand-designed baselines of its cost, how a family's members are checked against each other, and the confirm phase
of both searches: their top candidates trained again with fresh seeds (`first_seed`), chosen on validation.

Every network is compared with the reference (the `size_to` network, or the first) in pairs by seed -- or, with
`pairs`, each named pair (Step 2: the chosen family against the paper's, phi by phi): the mean difference, its 95%
Student-t interval and a verdict Holm-corrected across all the comparisons of the report."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..architecture.budget import METHODS, fit_budget
from ..architecture.spec import NetSpec, SpecError
from ..architecture.zoo import get_spec
from ..engine import MAX_SEEDS, Engine, Plan, TrialContext, check_count, run_experiment, score_text, summarize
from ..errors import InputError
from ..outputs import atomic_path
from .plots import line_plot
from .stats import compare_family, paired_difference
from .trial import ProxySchedule, check_data, curve_rise, spec_latency, spec_metrics, train_trial

KIND = "comparison"
OBJECTIVE = "effnet.experiments.compare:objective"
RESULTS, REPORT, FIGURE = "results.json", "report.md", "accuracy_vs_macs.png"
MAX_MODELS = 64


@dataclass(frozen=True)
class Comparison:
    """Named networks, the seeds (`first_seed`, `first_seed + 1`, ...) and the proxy schedule; with `size_to`,
    every other network is first scaled by `size_method` to that network's MACs (at the proxy resolution).
    `num_classes` (the classifier the networks are costed with) comes from the data when None. `pairs` ((model,
    against), ...) replaces the default comparisons, every model against the reference."""

    models: dict[str, NetSpec]
    seeds: int = 3
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    size_to: str | None = None
    size_method: str = "width"
    num_classes: int | None = None
    first_seed: int = 0
    kind: str = KIND
    pairs: tuple[tuple[str, str], ...] = ()

    objective = OBJECTIVE
    outputs = (RESULTS, REPORT, FIGURE)

    def __post_init__(self) -> None:
        if not 1 <= len(self.models) <= MAX_MODELS:
            raise InputError(f"a comparison needs 1 to {MAX_MODELS} models, got {len(self.models)}")
        if self.size_to is not None and self.size_to not in self.models:
            raise InputError(f"size-to names {self.size_to!r}, which is not one of the models")
        if self.size_method not in METHODS:
            raise InputError(f"size method must be one of {', '.join(METHODS)}")
        check_count("seeds", self.seeds, MAX_SEEDS)
        check_count("first seed", self.first_seed, 10**9, low=0)
        for pair in self.pairs:
            unknown = [name for name in pair if name not in self.models]
            if len(pair) != 2 or pair[0] == pair[1] or unknown:
                raise InputError(f"a compared pair needs two different models of the comparison, got {pair!r}")

    @property
    def reference(self) -> str:
        """The network every other is compared with."""
        return self.size_to or next(iter(self.models))

    def compared(self) -> list[tuple[str, str]]:
        """The (model, against) pairs the report compares."""
        return list(self.pairs) or [(name, self.reference) for name in self.models if name != self.reference]

    def inputs(self) -> dict[str, Any]:
        inputs = {"models": {name: spec.to_dict() for name, spec in self.models.items()}, "seeds": self.seeds,
                  "proxy": self.proxy.to_dict(), "size_to": self.size_to, "size_method": self.size_method,
                  "num_classes": self.num_classes, "first_seed": self.first_seed}
        if self.pairs:  # only when given: folders written before pairs existed keep their configuration
            inputs["pairs"] = [list(pair) for pair in self.pairs]
        return inputs

    def plan(self) -> Plan:
        seeds = range(self.first_seed, self.first_seed + self.seeds)
        return Plan(self.kind, self.inputs(), tuple({"model": name, "seed": seed} for seed in seeds
                                                    for name in self.models))

    def prepare(self) -> Comparison:
        facts = check_data(self.proxy)
        return self if self.num_classes is not None else replace(self, num_classes=facts.classes)

    def derive(self, engine: Engine) -> None:
        engine.derived("proxy", self.proxy.to_dict)
        engine.derived("models", lambda: size_models(self))

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
        return write_outputs(engine, self, engine.all_derived()["models"], engine.output, counts)


def model_spec(source: str, resolution: int | None) -> NetSpec:
    """A model for the comparison: a spec file keeps its own resolution; a registered name takes the proxy's."""
    spec = get_spec(source)
    is_file = Path(source).is_file()
    return spec.replace(resolution=resolution) if resolution and not is_file else spec


def size_models(comparison: Comparison) -> dict[str, Any]:
    """Every model as trained: sized to the reference's MACs when asked, with its cost and measured latency."""
    num_classes = comparison.num_classes or 10
    out = {}
    target = None
    if comparison.size_to is not None:
        target = spec_metrics(comparison.models[comparison.size_to], num_classes)["macs"]
    for name, spec in comparison.models.items():
        coefficient, error = None, None
        if target is not None and name != comparison.size_to:
            try:
                fit = fit_budget(spec, float(target), comparison.size_method, num_classes=num_classes)
            except SpecError as failure:
                raise InputError(f"{name} cannot be sized to {target / 1e6:.2f} MMACs: {failure}") from None
            spec, coefficient, error = fit.spec, fit.coefficient, fit.error
        out[name] = {"spec": spec.to_dict(), **spec_metrics(spec, num_classes),
                     "latency_ms": spec_latency(spec, num_classes), "coefficient": coefficient,
                     "fit_error": error, "resolution": spec.resolution}
    return out


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    model = context.derived["models"][params["model"]]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    result = train_trial(NetSpec.from_dict(model["spec"]), proxy, int(params["seed"]), context.folder)
    return {"value": result["val_top1"], "model": params["model"], "seed": params["seed"],
            **{k: model[k] for k in ("params", "macs", "activations", "latency_ms", "resolution")}, **result,
            "curve_rise": curve_rise(result["curve"])}


def run_comparison(comparison: Comparison, output: str | os.PathLike[str], *, storage: str | None = None,
                   workers: int = 1, threads: int = 1, progress: bool = True,
                   overwrite: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Run (or resume) the comparison in `output` and write results.json, report.md and the figure there;
    returns results.json's content."""
    return run_experiment(comparison, output, storage=storage, workers=workers, threads=threads, progress=progress,
                          overwrite=overwrite, max_failures=max_failures)


def scores(rows: list[dict[str, Any]], name: str, metric: str) -> dict[int, float]:
    """One model's `metric` per seed."""
    return {r["seed"]: r[metric] for r in rows if r["model"] == name and r.get(metric) is not None}


def paired(rows: list[dict[str, Any]], pairs: list[tuple[str, str]], metric: str) -> list[dict[str, Any]]:
    """Each (model, against) pair, paired by seed on `metric`, Holm-corrected together."""
    samples = []
    for name, against in pairs:
        mine, theirs = scores(rows, name, metric), scores(rows, against, metric)
        seeds = sorted(set(mine) & set(theirs))
        samples.append(([mine[s] for s in seeds], [theirs[s] for s in seeds]))
    return [{"model": name, "against": against, "metric": metric, **result}
            for (name, against), result in zip(pairs, compare_family(samples))]


def winner(rows: list[dict[str, Any]], names: list[str], metric: str = "val_top1") -> dict[str, Any] | None:
    """The model with the best mean `metric`, and whether the runner-up can be told from it (paired by seed)."""
    means = {name: summarize(list(scores(rows, name, metric).values()))[0] for name in names
             if scores(rows, name, metric)}
    if not means:
        return None
    ranked = sorted(means, key=lambda name: -means[name])
    result: dict[str, Any] = {"model": ranked[0], "mean": round(means[ranked[0]], 4), "metric": metric,
                              "runner_up": None, "difference": None, "distinguishable": None}
    if len(ranked) > 1:
        best, second = scores(rows, ranked[0], metric), scores(rows, ranked[1], metric)
        seeds = sorted(set(best) & set(second))
        difference = paired_difference([best[s] for s in seeds], [second[s] for s in seeds])
        result.update(runner_up=ranked[1], difference=difference,
                      distinguishable=difference["low"] is not None and difference["low"] > 0)
    return result


def write_outputs(engine: Engine, comparison: Comparison, models: dict[str, dict[str, Any]], folder: Path,
                  counts: dict[str, int]) -> dict[str, Any]:
    """results.json, report.md and the figure from the finished trials; returns results.json's data."""
    rows = [dict(r.metrics) for r in engine.records() if r.state == "complete"]
    for row in rows:
        row.pop("value", None)
    names = list(models)
    split = "test" if rows and all(r.get("test_top1") is not None for r in rows) else "val"
    summary = []
    for name, model in models.items():
        mine = [r for r in rows if r["model"] == name]
        entry: dict[str, Any] = {"model": name, "trials": len(mine)}
        for metric in ("val_top1", "test_top1", "val_top5", "test_top5"):
            values = [r[metric] for r in mine if r.get(metric) is not None]
            mean, std = summarize(values) if values else (None, None)
            entry[f"{metric}_mean"], entry[f"{metric}_std"] = mean, std
        entry.update({k: model.get(k) for k in ("params", "macs", "activations", "latency_ms", "resolution",
                                                 "coefficient", "fit_error")})
        summary.append(entry)
    data = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts, "score_split": split,
            "reference": comparison.reference, "summary": summary,
            "paired": paired(rows, comparison.compared(), f"{split}_top1"),
            "winner_val": winner(rows, names, "val_top1"), "trials": rows}
    with atomic_path(folder / RESULTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False, default=str))
    scored = [s for s in summary if s[f"{split}_top1_mean"] is not None]
    if scored:
        line_plot({s["model"]: [(s["macs"] / 1e6, s[f"{split}_top1_mean"], s[f"{split}_top1_std"])] for s in scored},
                  folder / FIGURE, xlabel="MMACs (multiply-adds)", ylabel=f"{split} top-1 accuracy (%)",
                  title="Same schedule, same seeds", annotate={s["model"]: [s["model"]] for s in scored},
                  note=f"{comparison.seeds} seed(s), {comparison.proxy.epochs} epoch(s) on "
                       f"{comparison.proxy.limit_train or 'all'} training images; mean +- std on the {split} split")
    with atomic_path(folder / REPORT) as temp:
        temp.write_text(markdown(data))
    return data


def markdown(data: dict[str, Any]) -> str:
    """The report, from results.json's data alone (so `effnet report` can write it again)."""
    inputs, split = data["inputs"], data["score_split"]
    proxy = inputs["proxy"]
    sizing = f"; sized by {inputs['size_method']} to {inputs['size_to']}'s MACs" if inputs.get("size_to") else ""
    first = inputs.get("first_seed", 0)
    seeds = f"seeds {first}..{first + inputs['seeds'] - 1}"
    lines = ["# Comparison at the same schedule and seeds", "",
             f"{inputs['seeds']} seed(s) ({seeds}), paired; proxy: {proxy['epochs']} epoch(s) on "
             f"{proxy.get('limit_train') or 'all'} training images, validated on the {proxy.get('val_split')} split "
             f"({proxy.get('limit_val') or 'all'} images){sizing}. Final numbers: the {split} split.", "",
             "| model | val top-1 | test top-1 | params | MMACs | latency ms | px | trials |",
             "|---|---|---|---|---|---|---|---|"]

    def score(entry: dict[str, Any], metric: str) -> str:
        return score_text(entry[f"{metric}_mean"], entry[f"{metric}_std"], entry["trials"])

    for s in data["summary"]:
        lines.append(f"| {s['model']} | {score(s, 'val_top1')} | {score(s, 'test_top1')} | {s['params'] / 1e6:.2f}M "
                     f"| {s['macs'] / 1e6:.2f} | {s['latency_ms']:.2f} | {s['resolution']} | {s['trials']} |")
    if data["paired"] and inputs.get("pairs"):
        lines += ["", f"## Pairs ({split} split, paired by seed, Holm-corrected together)", "",
                  "| model | against | difference [95% CI] | p (Holm) | verdict |", "|---|---|---|---|---|"]
        lines += [f"| {p['model']} | {p['against']} | {difference_text(p)} | {holm_text(p)} | {p['verdict']} |"
                  for p in data["paired"]]
    elif data["paired"]:
        lines += ["", f"## Against {data['reference']} ({split} split, paired by seed, Holm-corrected)", "",
                  "| model | difference [95% CI] | p (Holm) | verdict |", "|---|---|---|---|"]
        lines += [f"| {p['model']} | {difference_text(p)} | {holm_text(p)} | {p['verdict']} |" for p in data["paired"]]
    return "\n".join(lines) + "\n"


def difference_text(p: dict[str, Any]) -> str:
    """A paired difference as "+1.23 [+0.40, +2.06]" (no interval with one seed)."""
    return ("-" if p["mean"] is None else f"{p['mean']:+.2f}" if p["low"] is None else
            f"{p['mean']:+.2f} [{p['low']:+.2f}, {p['high']:+.2f}]")


def holm_text(p: dict[str, Any]) -> str:
    """A Holm-adjusted p-value for a table ("-" without one)."""
    return "-" if p["p_holm"] is None else f"{p['p_holm']:.3g}"


__all__ = ["KIND", "Comparison", "difference_text", "holm_text", "model_spec", "paired", "run_comparison",
           "size_models", "winner"]
