"""Baseline architecture search (paper Section 4; MnasNet): search the factorized hierarchical space around a
reference network for the best ACC(m) x [cost(m) / T]^w, with cost the multiply-adds (no training needed) or the
latency measured here on effnet's inference path, and accuracy from proxy training.

Every candidate is an Optuna trial on the experiment engine (resume, `workers`, `storage`). Samplers: random
search, NSGA-II on (accuracy, cost) for the Pareto front, or regularized (aging) evolution on the scalar reward;
the scalar reward also lets a pruner stop weak candidates early (Optuna cannot prune multi-objective studies).
A candidate is cached by genotype: a proposal seen before is never trained again.

Accuracy in the reward and the Pareto front is validation accuracy (a held-out part of the training set); the
test split is scored once per candidate for the record. The confirm phase trains the best candidates by reward
again with fresh seeds, and the best of them by mean reward is the search's result (`best.json`), with whether it
can be told from the runner-up."""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from ..architecture.profiling import analyze
from ..architecture.spec import NetSpec
from ..engine import (
    MAX_SEEDS,
    MAX_TRIALS,
    Engine,
    Plan,
    TrialContext,
    check_count,
    run_experiment,
    score_text,
    summarize,
    trial_slug,
)
from ..errors import InputError
from ..experiments.compare import Comparison, run_comparison, winner
from ..experiments.plots import line_plot, scatter
from ..experiments.trial import ProxySchedule, check_data, spec_latency, spec_metrics, train_trial
from ..outputs import atomic_path
from .evolution import RegularizedEvolutionSampler
from .space import BLOCKS, DEPTHS, KERNELS, SE_RATIOS, SKIPS, WIDTHS, SearchSpace, reward

KIND = "architecture-search"
OBJECTIVE = "effnet.search.architecture:objective"
SAMPLERS = ("random", "nsga2", "evolution")
COSTS = ("macs", "latency")
BEST, CANDIDATES, REPORT, CONFIRM = "best.json", "candidates.json", "report.md", "confirm"
CONFIRM_KIND = "architecture-confirm"
PARETO, TRAJECTORY = "pareto.png", "trajectory.png"
GENOTYPE = "genotype"


def random_sampler(seed: int) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


def nsga2_sampler(seed: int, population: int = 8) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(population_size=population, seed=seed)


def evolution_sampler(seed: int, population: int = 8, sample: int = 3) -> optuna.samplers.BaseSampler:
    return RegularizedEvolutionSampler(population=population, sample=min(sample, population), seed=seed)


@dataclass(frozen=True)
class ArchitectureSearch:
    """What to search: the space (around its reference), the cost and its target T, the reward's exponent w, how
    many candidates, the sampler, seeds per candidate, and the proxy schedule."""

    space: SearchSpace
    target: float
    cost: str = "macs"
    weight: float = -0.07
    trials: int = 20
    sampler: str = "evolution"
    population: int = 8
    seeds: int = 1
    proxy: ProxySchedule = field(default_factory=ProxySchedule)
    seed: int = 0
    prune: bool = False
    include_reference: bool = True
    num_classes: int | None = None
    confirm: int = 3
    confirm_seeds: int = 3

    objective = OBJECTIVE
    outputs = (BEST, CANDIDATES, REPORT, PARETO, TRAJECTORY, CONFIRM)

    def __post_init__(self) -> None:
        if self.cost not in COSTS:
            raise InputError(f"cost must be one of {', '.join(COSTS)}, got {self.cost!r}")
        if self.sampler not in SAMPLERS:
            raise InputError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if not (math.isfinite(self.target) and self.target > 0) or self.trials < 1 or self.seeds < 1 or \
                self.population < 2 or not math.isfinite(self.weight):
            raise InputError("the search needs a positive finite target and weight, trials >= 1, seeds >= 1 and "
                             "population >= 2")
        check_count("trials", self.trials, MAX_TRIALS)
        check_count("seeds", self.seeds, MAX_SEEDS)
        check_count("confirm-seeds", self.confirm_seeds, MAX_SEEDS)
        check_count("confirm", self.confirm, 100, low=0)
        check_count("population", self.population, 1_000, low=2)
        if self.prune and self.sampler == "nsga2":
            raise InputError("NSGA-II optimises two objectives, and Optuna cannot prune those: use the scalar reward "
                             "(random or evolution) to prune")

    def inputs(self) -> dict[str, Any]:
        s = self.space
        return {"reference": s.reference.to_dict(), "blocks": list(s.blocks), "kernels": list(s.kernels),
                "se_ratios": list(s.se_ratios), "skips": list(s.skips), "widths": list(s.widths),
                "depths": list(s.depths), "target": self.target, "cost": self.cost, "weight": self.weight,
                "trials": self.trials, "sampler": self.sampler, "population": self.population, "seeds": self.seeds,
                "proxy": self.proxy.to_dict(), "seed": self.seed, "prune": self.prune,
                "include_reference": self.include_reference, "num_classes": self.num_classes}

    def prepare(self) -> ArchitectureSearch:
        facts = check_data(self.proxy)
        search = self if self.num_classes is not None else replace(self, num_classes=facts.classes)
        if search.prune and search.proxy.validate != "every" and search.proxy.val_points < 2:
            search = replace(search, proxy=replace(search.proxy, validate="every"))  # the pruner judges each point
        check_target(search)  # refused before anything is written when no candidate can meet it
        return search

    def derive(self, engine: Engine) -> None:
        engine.derived("proxy", self.proxy.to_dict)
        engine.derived("target", lambda: check_target(self))

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
        return write_outputs(engine, self, engine.output, counts)

    def plan(self) -> Plan:
        first = self.space.reference_point() if self.include_reference else None
        enqueued = (self.space.params(first),) if first is not None else ()
        sampler_args: dict[str, Any] = {} if self.sampler == "random" else {"population": self.population}
        return Plan(KIND, self.inputs(), enqueued, asks=self.trials - len(enqueued),
                    sampler=f"effnet.search.architecture:{self.sampler}_sampler", sampler_args=sampler_args,
                    seed=self.seed, directions=("maximize", "minimize") if self.sampler == "nsga2" else ("maximize",),
                    pruner="median" if self.prune else None)


def space_from_inputs(inputs: dict[str, Any]) -> SearchSpace:
    return SearchSpace(NetSpec.from_dict(inputs["reference"]), tuple(inputs["blocks"]), tuple(inputs["kernels"]),
                       tuple(inputs["se_ratios"]), tuple(inputs["skips"]), tuple(inputs["widths"]),
                       tuple(inputs["depths"]))


def check_target(search: ArchitectureSearch) -> dict[str, Any]:
    """The cheapest network of the space must meet the target; its cost (refused otherwise, in one line)."""
    cheapest = search.space.spec(search.space.cheapest(), name="cheapest")
    cost = _cost(cheapest, search.cost, search.num_classes or 10)
    if cost > search.target:
        unit = "MACs" if search.cost == "macs" else "ms"
        raise InputError(f"no candidate can meet the target {search.target:.4g} {unit}: the cheapest network of the "
                         f"space costs {cost:.4g} {unit}; raise the target or widen the space")
    return {"cheapest_cost": cost}


def _cost(spec: NetSpec, cost: str, num_classes: int) -> float:
    if cost == "macs":
        return float(analyze(spec, num_classes=num_classes).macs)
    return spec_latency(spec, num_classes)


def _wait_for(study: optuna.Study, genotype: str, number: int) -> optuna.trial.FrozenTrial | None:
    """The finished trial of the same genotype (waiting while another worker still trains it), if any."""
    while True:
        same = [t for t in study.get_trials(deepcopy=False) if t.number != number
                and t.user_attrs.get(GENOTYPE) == genotype and t.state in (TrialState.COMPLETE, TrialState.RUNNING)]
        done = [t for t in same if t.state == TrialState.COMPLETE and "val_top1" in t.user_attrs]
        if done:
            return min(done, key=lambda t: t.number)
        if not [t for t in same if t.number < number]:
            return None
        time.sleep(5.0)


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """One candidate: propose (or read) its choices, serve it from the cache or train it, and score it."""
    trial = context.trial
    assert trial is not None
    inputs = trial.study.user_attrs["effnet.inputs"]
    space = space_from_inputs(inputs)
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    choices = space.choose(trial.suggest_categorical)
    genotype = space.encode(choices)
    trial.set_user_attr(GENOTYPE, genotype)
    nsga2 = inputs["sampler"] == "nsga2"
    cached = _wait_for(trial.study, genotype, trial.number)
    if cached is not None:
        metrics = {k: v for k, v in cached.user_attrs.items() if not k.startswith("effnet.")}
        metrics["cached_from"] = cached.number
        return {**metrics, "value": [metrics["val_top1"], metrics["cost"]] if nsga2 else metrics["reward"]}
    spec = space.spec(choices, name=f"searched-{trial_slug({'g': genotype})}")
    costs = spec_metrics(spec, inputs["num_classes"])
    latency = spec_latency(spec, inputs["num_classes"])
    cost = float(costs["macs"]) if inputs["cost"] == "macs" else latency

    def report(point: int, top1: float) -> None:
        context.report(point, reward(top1 / 100.0, cost, inputs["target"], inputs["weight"]))

    results = [train_trial(spec, proxy, seed, context.root / f"{trial_slug({'g': genotype})}-seed{seed}",
                           on_validate=report if inputs["prune"] and seed == 0 else None)
               for seed in range(inputs["seeds"])]
    top1, top1_std = summarize([r["val_top1"] for r in results])
    tests = [r["test_top1"] for r in results if r.get("test_top1") is not None]
    score = reward(top1 / 100.0, cost, inputs["target"], inputs["weight"])
    metrics = {GENOTYPE: genotype, "val_top1": round(top1, 4), "val_top1_std": round(top1_std, 4),
               "test_top1": round(summarize(tests)[0], 4) if tests else None, **costs, "latency_ms": latency,
               "cost": cost, "reward": round(score, 6), "seconds": round(sum(r["seconds"] for r in results), 2),
               "spec": spec.to_dict()}
    return {**metrics, "value": [top1, cost] if nsga2 else score}


def run_architecture_search(search: ArchitectureSearch, output: str | os.PathLike[str], *, storage: str | None = None,
                            workers: int = 1, threads: int = 1, progress: bool = True,
                            overwrite: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Run (or resume) the search in `output`, then the confirm phase of its best candidates in `output/confirm`;
    writes best.json, candidates.json, report.md and the figures."""
    folder = Path(output)
    search = search.prepare()
    data = run_experiment(search, folder, storage=storage, workers=workers, threads=threads, progress=progress,
                          overwrite=overwrite, max_failures=max_failures)
    top = ranked_candidates(data)[: search.confirm]
    if data["counts"]["done"] < data["counts"]["planned"] or not search.confirm or len(top) < 1:
        return data
    engine = Engine(search.plan(), folder, storage=storage, outputs=search.outputs)
    specs = candidate_specs(engine)
    confirmation = Comparison({f"trial-{r['number']}": NetSpec.from_dict(specs[r["number"]]) for r in top},
                              seeds=search.confirm_seeds, proxy=search.proxy, num_classes=search.num_classes,
                              first_seed=search.seeds, kind=CONFIRM_KIND)
    confirmed = run_comparison(confirmation, folder / CONFIRM, storage=storage, workers=workers, threads=threads,
                               progress=progress, overwrite=overwrite, max_failures=max_failures)
    return write_outputs(engine, search, folder, data["counts"], confirmed)


def ranked_candidates(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The finished, distinct candidates (not served from the cache), best reward first."""
    finished = [r for r in data["candidates"] if r["state"] == "complete" and r["reward"] is not None
                and r["cached_from"] is None]
    return sorted(finished, key=lambda r: (-r["reward"], r["number"]))


def candidate_specs(engine: Engine) -> dict[int, dict[str, Any]]:
    """Each trained candidate's spec, by trial number."""
    return {t.number: t.user_attrs["spec"] for t in engine.trials() if "spec" in t.user_attrs}


def pareto_front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (cost, accuracy) points no other point beats on both (lower cost and higher accuracy)."""
    front = []
    for cost, acc in sorted(points, key=lambda p: (p[0], -p[1])):
        if not front or acc > front[-1][1]:
            front.append((cost, acc))
    return front


def confirmed_choice(search: ArchitectureSearch, confirmed: dict[str, Any],
                     costs: dict[str, float]) -> dict[str, Any] | None:
    """The confirm phase's best candidate by mean reward on the validation split, and whether the runner-up can
    be told from it (paired by seed, on the reward)."""
    rewards = [{**row, "reward": reward(row["val_top1"] / 100.0, costs[row["model"]], search.target, search.weight)}
               for row in confirmed["trials"]]
    return winner(rewards, list(confirmed["inputs"]["models"]), "reward")


def write_outputs(engine: Engine, search: ArchitectureSearch, folder: Path, counts: dict[str, int],
                  confirmed: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = []
    for record in engine.all_records():
        m = record.metrics
        rows.append({"number": record.number, "state": record.state, GENOTYPE: m.get(GENOTYPE),
                     "val_top1": m.get("val_top1"), "val_top1_std": m.get("val_top1_std"),
                     "test_top1": m.get("test_top1"), "macs": m.get("macs"), "latency_ms": m.get("latency_ms"),
                     "params": m.get("params"), "activations": m.get("activations"), "reward": m.get("reward"),
                     "cached_from": m.get("cached_from"), "seconds": m.get("seconds"), "error": m.get("error")})
    finished = [r for r in rows if r["state"] == "complete" and r["reward"] is not None]
    cost_key = "macs" if search.cost == "macs" else "latency_ms"
    front = pareto_front([(r[cost_key], r["val_top1"]) for r in finished])
    data: dict[str, Any] = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts,
                            "selection_split": "val", "candidates": rows,
                            "pareto_front": [{"cost": c, "val_top1": a} for c, a in front]}
    choice_number = None
    if confirmed is not None:
        costs = {entry["model"]: float(entry["macs"] if search.cost == "macs" else entry["latency_ms"])
                 for entry in confirmed["summary"]}
        choice = confirmed_choice(search, confirmed, costs)
        data["confirm"] = {"candidates": list(confirmed["inputs"]["models"]), "seeds": confirmed["inputs"]["seeds"],
                           "first_seed": confirmed["inputs"]["first_seed"], "counts": confirmed["counts"],
                           "summary": confirmed["summary"], "winner": choice,
                           "search_winner": f"trial-{ranked_candidates(data)[0]['number']}"}
        if choice is not None and confirmed["counts"]["done"] >= confirmed["counts"]["planned"]:
            choice_number = int(choice["model"].removeprefix("trial-"))
            data["choice_source"] = "confirm"
    elif finished and not search.confirm and counts["done"] >= counts["planned"]:
        choice_number = ranked_candidates(data)[0]["number"]
        data["choice_source"] = "search"
    if choice_number is not None:
        best_row = next(r for r in rows if r["number"] == choice_number)
        spec = NetSpec.from_dict(candidate_specs(engine)[choice_number]).replace(name="searched")
        best = {"spec": spec.to_dict(), "profile": analyze(spec, num_classes=search.num_classes or 10).to_dict(),
                "search": {k: best_row[k] for k in (GENOTYPE, "val_top1", "test_top1", "macs", "latency_ms",
                                                    "params", "reward", "number")}}
        if "confirm" in data and data["confirm"]["winner"] is not None:
            best["search"]["confirm"] = data["confirm"]["winner"]
        with atomic_path(folder / BEST) as temp:
            temp.write_text(json.dumps(best, indent=2, allow_nan=False))
        data["best"] = best["search"]
    if finished:
        front_set = set(front)
        scale = 1e6 if search.cost == "macs" else 1
        note = (f"{search.seeds} seed(s) per candidate, {search.proxy.epochs} epoch(s) on "
                f"{search.proxy.limit_train or 'all'} training images; validation top-1")
        scatter({"candidates": [(r[cost_key] / scale, r["val_top1"]) for r in finished
                                if (r[cost_key], r["val_top1"]) not in front_set],
                 "on the Pareto front": [(c / scale, a) for c, a in front]},
                folder / PARETO, xlabel="MMACs" if search.cost == "macs" else "latency, batch 1, 1 thread (ms)",
                ylabel="validation top-1 (%)", title=f"Architecture search ({search.sampler}): accuracy vs cost",
                front=[(c / scale, a) for c, a in front], note=note,
                chosen=None if "best" not in data else (data["best"][cost_key] / scale, data["best"]["val_top1"],
                                                        f"trial {data['best']['number']}"))
        ordered = sorted(finished, key=lambda r: r["number"])
        running_best, best_so_far = [], float("-inf")
        for r in ordered:
            best_so_far = max(best_so_far, r["reward"])
            running_best.append((r["number"], best_so_far, 0.0))
        line_plot({"reward": [(r["number"], r["reward"], 0.0) for r in ordered], "best so far": running_best},
                  folder / TRAJECTORY, xlabel="trial number", ylabel="reward ACC_val x (cost/T)^w",
                  title=f"Search trajectory ({search.sampler}, {len(ordered)} candidates)", note=note)
    with atomic_path(folder / CANDIDATES) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False))
    with atomic_path(folder / REPORT) as temp:
        temp.write_text(markdown(data, search))
    return data


def markdown(data: dict[str, Any], search: ArchitectureSearch) -> str:
    unit = "MMACs" if search.cost == "macs" else "ms"
    target = search.target / 1e6 if search.cost == "macs" else search.target
    counts = data["counts"]
    finished = [r for r in data["candidates"] if r["state"] == "complete" and r["reward"] is not None]
    cached = sum(r["cached_from"] is not None for r in finished)
    trouble = "".join(f", {counts[k]} {k}" for k in ("failed", "interrupted") if counts.get(k))
    lines = [f"# Architecture search around {search.space.reference.name}", "",
             f"{search.sampler} sampler, {len(finished)} finished candidates of {search.trials}{trouble} ({cached} "
             f"served from the genotype cache); reward ACC_val x (cost/T)^{search.weight:g} with cost = "
             f"{search.cost}, T = {target:g} {unit}; {search.seeds} seed(s) per candidate; proxy: "
             f"{search.proxy.epochs} epoch(s) on {search.proxy.limit_train or 'all'} images of `{search.proxy.data}`, "
             f"validated on the {search.proxy.val_split} split ({search.proxy.limit_val or 'all'} images) at "
             f"{search.space.reference.resolution} px; test top-1 for the record only. The space holds "
             f"{search.space.size():.3g} networks.", ""]
    confirm = data.get("confirm")
    if "best" in data:
        best = data["best"]
        test = "-" if best.get("test_top1") is None else f"{best['test_top1']:.2f}%"
        how = "chosen in the confirm phase" if data.get("choice_source") == "confirm" else "best reward"
        lines += [f"Result ({how}): trial {best['number']}, val top-1 {best['val_top1']:.2f}% in the search "
                  f"(test {test}), {best['macs'] / 1e6:.2f} MMACs, {best['latency_ms']:.2f} ms; genotype "
                  f"`{best[GENOTYPE]}`; spec file `{BEST}`.", ""]
    if confirm is not None:
        choice = confirm["winner"]
        lines += [f"## Confirm phase: the top {len(confirm['candidates'])} by reward trained again with "
                  f"{confirm['seeds']} fresh seeds", "", "| candidate | val top-1 | test top-1 |", "|---|---|---|"]
        for s in confirm["summary"]:
            lines.append(f"| {s['model']} | {score_text(s['val_top1_mean'], s['val_top1_std'], s['trials'])} | "
                         f"{score_text(s['test_top1_mean'], s['test_top1_std'], s['trials'])} |")
        if choice is not None and choice["runner_up"] is not None:
            d = choice["difference"]
            interval = "no interval (one seed)" if d["low"] is None else f"95% CI [{d['low']:+.4f}, {d['high']:+.4f}]"
            lines += ["", f"Winner {choice['model']} against the runner-up {choice['runner_up']}: reward "
                      f"{d['mean']:+.4f}, {interval}: " + ("the winner is better." if choice["distinguishable"] else
                                                          "**the winner cannot be told from the runner-up**.")]
        if choice is not None and confirm["search_winner"] != choice["model"]:
            lines.append(f"The search's best ({confirm['search_winner']}) did not hold up in the confirm phase.")
        lines.append("")
    lines += ["## Top candidates by reward (search phase)", "",
              "| trial | val top-1 | test top-1 | MMACs | latency ms | params | reward | genotype |",
              "|---|---|---|---|---|---|---|---|"]
    for r in sorted(finished, key=lambda r: -r["reward"])[:10]:
        test = "-" if r["test_top1"] is None else f"{r['test_top1']:.2f}"
        lines.append(f"| {r['number']} | {r['val_top1']:.2f} | {test} | {r['macs'] / 1e6:.2f} | "
                     f"{r['latency_ms']:.2f} | {r['params'] / 1e6:.2f}M | {r['reward']:.4f} | `{r[GENOTYPE]}` |")
    lines += ["", "## Pareto front (validation accuracy vs cost)", "", f"| cost ({unit}) | val top-1 |", "|---|---|"]
    lines += [f"| {p['cost'] / (1e6 if search.cost == 'macs' else 1):.2f} | {p['val_top1']:.2f} |"
              for p in data["pareto_front"]]
    lines += ["", f"Figures: `{PARETO}`, `{TRAJECTORY}`."]
    return "\n".join(lines) + "\n"


__all__ = ["BLOCKS", "COSTS", "DEPTHS", "KERNELS", "KIND", "SAMPLERS", "SE_RATIOS", "SKIPS", "WIDTHS",
           "ArchitectureSearch", "evolution_sampler", "nsga2_sampler", "objective", "pareto_front",
           "random_sampler", "run_architecture_search"]
