"""The paper's Section 4 method for alpha, beta, gamma. Step 1: fix phi = 1, grid-search alpha, beta, gamma >= 1
whose phi = 1 network really costs about `target` times the baseline's MACs (measured after rounding, with the
task's classifier: the nominal alpha * beta^2 * gamma^2 can be far from what rounding builds), the paper's own
(1.2, 1.1, 1.15) always among them; train each candidate on the proxy schedule with several seeds and rank them
on the validation split. Then the confirm phase trains the top candidates again with fresh seeds and chooses
among them -- a winner that was luck on the grid's seeds does not survive it -- and says when the winner cannot
be told from the runner-up. Step 2: fix the chosen coefficients and scale the baseline with phi = 1..N (spec
files) -- and, asked for, train that family against the paper's coefficients at the same phi, rounded alike, on the
same proxy with fresh seeds (the choice's luck on its own seeds must not carry into the comparison), paired by
seed and Holm-corrected across the phi.

Rounding makes many grid points build the same phi = 1 network (on a small baseline, alpha = 1.0, 1.05 and 1.1 can
all leave every stage's repeats as they were). Such a network is trained once per seed, not once per grid point:
training copies would spend compute on nothing and let seed noise pick among identical networks. Its row names
every grid point that builds it; Step 1 cannot tell those apart, and the point that stands for them is the
paper's if it is among them, else the one whose alpha * beta^2 * gamma^2 is nearest the target (its family
grows closest to the constraint at larger phi).

An Optuna pruner (successive halving or Hyperband over the validation points of each trial's schedule) can stop
weak candidates early, so the long schedule is spent on promising ones; the report says how much was saved."""

from __future__ import annotations

import itertools
import json
import math
import os
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from ..architecture.profiling import analyze
from ..architecture.scaling import ALPHA, BETA, GAMMA, REPEAT_ROUNDINGS, ScalingWarning, scale_spec
from ..architecture.spec import NetSpec, SpecError
from ..engine import (
    MAX_SEEDS,
    Engine,
    Plan,
    StudyFailing,
    TrialContext,
    check_count,
    run_experiment,
    score_text,
    summarize,
)
from ..engine import PRUNERS as ENGINE_PRUNERS
from ..errors import ConfigurationMismatch, InputError
from ..experiments.compare import RESULTS as COMPARISON_RESULTS
from ..experiments.compare import Comparison, difference_text, holm_text, run_comparison, winner
from ..experiments.plots import scatter
from ..experiments.scaling_report import COST_TOLERANCE
from ..experiments.trial import ProxySchedule, check_data, spec_metrics, train_trial
from ..outputs import atomic_path

KIND, CONFIRM_KIND, STEP2_KIND = "coefficient-search", "coefficient-confirm", "family-comparison"
OBJECTIVE = "effnet.search.coefficients:objective"
PRUNERS = ("none", *ENGINE_PRUNERS)
COEFFICIENTS, FAMILY, REPORT, CONFIRM, STEP2 = "coefficients.json", "family", "report.md", "confirm", "step2"
FIGURE = "candidates.png"
PAPER = (ALPHA, BETA, GAMMA)
MAX_GRID_POINTS = 200_000  # grid points examined (each one is profiled) -- refused beyond, before anything runs
MAX_CANDIDATES = 2_000


@dataclass(frozen=True)
class CoefficientSearch:
    """Step 1's grid: alpha, beta, gamma from `low` to `high` in steps of `step`, kept when the phi = 1 network's
    real MACs ratio to the baseline is within `tolerance` of `target` (2: FLOPS double per unit of phi); the
    paper's point is always kept. Every candidate is trained at phi = 1 with `seeds` seeds on the proxy schedule;
    the `confirm` best (by validation top-1) are trained again with `confirm_seeds` fresh seeds, and the choice
    is made among those. `family` > 0 also writes phi = 1..family (Step 2); `family_seeds` > 0 then trains them
    against the paper's coefficients at each phi with that many fresh seeds. `num_classes` comes from the data."""

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
    num_classes: int | None = None
    confirm: int = 3
    confirm_seeds: int = 3
    repeat_rounding: str = "ceil"
    family_seeds: int = 0

    objective = OBJECTIVE
    outputs = (COEFFICIENTS, REPORT, FIGURE, FAMILY, CONFIRM, STEP2)

    def __post_init__(self) -> None:
        if not (0 < self.step <= 1) or not (1.0 <= self.low <= self.high <= 4.0):
            raise InputError(f"the grid needs 0 < step <= 1 and 1 <= low <= high <= 4, got step {self.step:g}, "
                             f"range {self.low:g}-{self.high:g}")
        points = len(self.values()) ** 3
        if points > MAX_GRID_POINTS:
            raise InputError(f"the grid has {points:,} points, more than {MAX_GRID_POINTS:,}; use a coarser step "
                             "or a narrower range")
        if not 0 < self.tolerance < self.target:
            raise InputError(f"tolerance must be in (0, {self.target:g}), got {self.tolerance:g}")
        if self.pruner not in PRUNERS:
            raise InputError(f"pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        check_count("seeds", self.seeds, MAX_SEEDS)
        check_count("confirm-seeds", self.confirm_seeds, MAX_SEEDS)
        check_count("confirm", self.confirm, 100, low=0)
        check_count("family", self.family, 16, low=0)
        check_count("family-seeds", self.family_seeds, MAX_SEEDS, low=0)
        if self.family_seeds and not self.family:
            raise InputError("family-seeds trains Step 2's family: it needs family (the largest phi) too")
        if not all(math.isfinite(v) for v in (self.step, self.low, self.high, self.tolerance, self.target)):
            raise InputError("the grid's step, range, tolerance and target must be finite numbers")
        if self.repeat_rounding not in REPEAT_ROUNDINGS:
            raise InputError(f"repeat rounding must be one of {', '.join(REPEAT_ROUNDINGS)}")
        if self.pruner != "none" and self.proxy.val_points < 2:
            raise InputError("a pruner needs intermediate validation points: val-points must be at least 2")

    def values(self) -> list[float]:
        count = int(round((self.high - self.low) / self.step)) + 1
        values = (round(self.low + i * self.step, 6) for i in range(count))
        return [value for value in values if value <= self.high + 1e-9]

    def network(self, alpha: float, beta: float, gamma: float) -> NetSpec:
        """A candidate's phi = 1 network."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScalingWarning)  # most grid points are far from a product of 2
            return scale_spec(self.baseline, phi=1.0, alpha=alpha, beta=beta, gamma=gamma,
                              repeat_rounding=self.repeat_rounding,
                              name=f"{self.baseline.name}-phi1-{label(alpha, beta, gamma)}")

    @cached_property
    def ratios(self) -> dict[tuple[float, float, float], float]:
        """The real MACs ratio at phi = 1 of every grid point (and the paper's) that can be built."""
        base = float(analyze(self.baseline, num_classes=self.num_classes or 10).macs)
        points = set(itertools.product(self.values(), repeat=3)) | {PAPER}
        out = {}
        for point in sorted(points):
            try:
                macs = analyze(self.network(*point), num_classes=self.num_classes or 10).macs
            except SpecError:
                continue
            out[point] = round(macs / base, 4)
        return out

    def candidates(self) -> list[tuple[float, float, float]]:
        """The grid points whose real MACs ratio is within the tolerance of the target, and the paper's point."""
        kept = [p for p, ratio in self.ratios.items() if abs(ratio - self.target) <= self.tolerance + 1e-12]
        return sorted(set(kept) | ({PAPER} if PAPER in self.ratios else set()))

    def networks(self) -> dict[tuple[float, float, float], list[tuple[float, float, float]]]:
        """The distinct phi = 1 networks among the candidates: the point that stands for each (the paper's, else
        the nearest product to the target) -> every candidate that builds it, in grid order."""
        groups: dict[str, list[tuple[float, float, float]]] = defaultdict(list)
        for point in self.candidates():
            groups[architecture_key(self.network(*point))].append(point)

        def standing(point: tuple[float, float, float]) -> tuple[bool, float, tuple[float, float, float]]:
            a, b, g = point
            return point != PAPER, abs(a * b * b * g * g - self.target), point

        return {min(members, key=standing): members for members in groups.values()}

    @property
    def family_first_seed(self) -> int:
        """Step 2's first seed: after the grid's and the confirm phase's, so none of the seeds the choice was made
        on trains a network of the comparison."""
        return self.seeds + (self.confirm_seeds if self.confirm else 0)

    def inputs(self) -> dict[str, Any]:  # the grid's: the confirm phase and Step 2 are studies of their own
        return {"baseline": self.baseline.to_dict(), "step": self.step, "low": self.low, "high": self.high,
                "tolerance": self.tolerance, "target": self.target, "seeds": self.seeds,
                "proxy": self.proxy.to_dict(), "pruner": self.pruner, "num_classes": self.num_classes,
                "repeat_rounding": self.repeat_rounding}

    def plan(self) -> Plan:
        candidates = self.candidates()
        if not candidates:
            raise InputError(f"no grid point's phi = 1 network costs {self.target:g}x the baseline within "
                             f"{self.tolerance:g} (step {self.step:g}, range {self.low:g}-{self.high:g}); widen the "
                             "range, refine the step or raise the tolerance")
        if len(candidates) * self.seeds > MAX_CANDIDATES:
            raise InputError(f"the grid keeps {len(candidates):,} candidates x {self.seeds} seeds, more than "
                             f"{MAX_CANDIDATES:,} trials; lower the tolerance or use a coarser step")
        trials = tuple({"alpha": a, "beta": b, "gamma": g, "seed": seed}
                       for seed in range(self.seeds) for a, b, g in sorted(self.networks()))
        pruner = None if self.pruner == "none" else self.pruner
        return Plan(KIND, self.inputs(), trials, pruner=pruner,
                    pruner_args={"max_resource": self.proxy.val_points} if pruner else {})

    def prepare(self) -> CoefficientSearch:
        facts = check_data(self.proxy)
        search = self if self.num_classes is not None else replace(self, num_classes=facts.classes)
        search.plan()  # refuses an empty or oversized grid before anything is written
        return search

    def derive(self, engine: Engine) -> None:
        engine.derived("proxy", self.proxy.to_dict)
        engine.derived("candidates", lambda: size_candidates(self))

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]:
        return write_outputs(engine, self, engine.output, counts)


def architecture_key(spec: NetSpec) -> str:
    """What a network is, without what it is called or which coefficients asked for it: two specs with the same
    key build the same modules."""
    fields = spec.to_dict()
    fields.pop("name", None)
    fields.pop("coefficients", None)
    return json.dumps(fields, sort_keys=True)


def label(alpha: float, beta: float, gamma: float) -> str:
    return f"a{alpha:g}-b{beta:g}-g{gamma:g}"


def parse_label(text: str) -> tuple[float, float, float]:
    a, b, g = (float(part[1:]) for part in text.split("-"))
    return a, b, g


def size_candidates(search: CoefficientSearch) -> dict[str, Any]:
    """Every distinct phi = 1 network, under the label of the point that stands for it: its spec, nominal
    product, real MACs ratio to the baseline and the other grid points that build it (`same_network`)."""
    out = {}
    for (a, b, g), members in search.networks().items():
        spec = search.network(a, b, g)
        out[label(a, b, g)] = {"spec": spec.to_dict(), "product": round(a * b * b * g * g, 6),
                               "macs_ratio": search.ratios[(a, b, g)], "paper": (a, b, g) == PAPER,
                               "same_network": [label(*m) for m in members if m != (a, b, g)],
                               **spec_metrics(spec, search.num_classes or 10)}
    return out


def objective(params: dict[str, Any], context: TrialContext) -> dict[str, Any]:
    """One candidate, one seed: train its phi = 1 network on the proxy schedule (each validation point goes to the
    pruner)."""
    candidate = context.derived["candidates"][label(params["alpha"], params["beta"], params["gamma"])]
    proxy = ProxySchedule.from_dict(context.derived["proxy"])
    result = train_trial(NetSpec.from_dict(candidate["spec"]), proxy, int(params["seed"]), context.folder,
                         on_validate=context.report)
    return {"value": result["val_top1"], **{k: params[k] for k in ("alpha", "beta", "gamma", "seed")},
            "product": candidate["product"], "macs_ratio": candidate["macs_ratio"], "params": candidate["params"],
            "macs": candidate["macs"], **result}


def run_coefficient_search(search: CoefficientSearch, output: str | os.PathLike[str], *, storage: str | None = None,
                           workers: int = 1, threads: int = 1, progress: bool = True,
                           overwrite: bool = False, max_failures: int | None = None) -> dict[str, Any]:
    """Step 1 -- the grid, then the confirm phase of its best candidates in `output/confirm` -- and with `family`,
    Step 2, in `output`; returns coefficients.json's content."""
    folder = Path(output)
    search = search.prepare()
    data = run_experiment(search, folder, storage=storage, workers=workers, threads=threads, progress=progress,
                          overwrite=overwrite, max_failures=max_failures)
    if data["counts"]["done"] < data["counts"]["planned"] or not data["ranking"]:
        return data
    engine = Engine(search.plan(), folder, storage=storage, outputs=search.outputs)
    kwargs = {"storage": storage, "workers": workers, "threads": threads, "progress": progress,
              "overwrite": overwrite, "max_failures": max_failures}
    confirmed = None
    if search.confirm:
        candidates = engine.all_derived()["candidates"]
        confirmation = Comparison({key: NetSpec.from_dict(candidates[key]["spec"])
                                   for key in data["ranking"][: search.confirm]},
                                  seeds=search.confirm_seeds, proxy=search.proxy, num_classes=search.num_classes,
                                  first_seed=search.seeds, kind=CONFIRM_KIND)
        confirmed = run_phase(confirmation, folder / CONFIRM, "the confirm phase", kwargs,
                              lambda partial: write_outputs(engine, search, folder, data["counts"], partial))
        data = write_outputs(engine, search, folder, data["counts"], confirmed)
    step2 = family_comparison(search, data) if search.family_seeds else None
    if step2 is None:  # not asked for this time: Step 2's recorded results for this choice stay in the report
        return data
    compared = run_phase(step2, folder / STEP2, "Step 2", kwargs,
                         lambda partial: write_outputs(engine, search, folder, data["counts"], confirmed, partial))
    return write_outputs(engine, search, folder, data["counts"], confirmed, compared)


def run_phase(comparison: Comparison, folder: Path, name: str, kwargs: dict[str, Any],
              write_partial: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """Run a phase of the search after its grid (a comparison in its own folder). Stopped (Ctrl-C, a run of
    failures), the search's outputs show the phase as far as it got before the stop goes on; a phase folder made
    with other settings is refused with the folder to remove, since overwriting would start the grid afresh too."""
    try:
        return run_comparison(comparison, folder, **kwargs)
    except ConfigurationMismatch as error:
        raise ConfigurationMismatch(f"{folder} holds {name} of other settings ({error.difference}); remove that "
                                    f"folder to run {name} again with these (the grid's trials are kept)",
                                    error.difference) from None
    except (KeyboardInterrupt, StudyFailing):
        partial = folder / COMPARISON_RESULTS
        if partial.is_file():
            write_partial(json.loads(partial.read_text()))
        raise


def recorded_step2(folder: Path, search: CoefficientSearch, data: dict[str, Any]) -> dict[str, Any] | None:
    """Step 2's results already in `folder` for the search's choice (None when there are none, or they are of
    another choice)."""
    results = folder / COMPARISON_RESULTS
    if data.get("alpha") is None or not results.is_file():
        return None
    try:
        recorded = json.loads(results.read_text())
        chosen = family_spec(search.baseline, (data["alpha"], data["beta"], data["gamma"]), 1,
                             search.repeat_rounding).name
        same = recorded["inputs"]["models"]["chosen-phi1"]["name"] == chosen
    except (OSError, ValueError, KeyError, TypeError, SpecError):
        return None
    return recorded if same else None


def family_spec(baseline: NetSpec, coefficients: tuple[float, float, float], phi: int,
                repeat_rounding: str) -> NetSpec:
    """The baseline scaled by `coefficients` (alpha, beta, gamma) at `phi`: a member of a Step-2 family."""
    alpha, beta, gamma = coefficients
    return scale_spec(baseline, phi=float(phi), alpha=alpha, beta=beta, gamma=gamma, repeat_rounding=repeat_rounding,
                      name=f"{baseline.name}-a{alpha:g}-b{beta:g}-g{gamma:g}-phi{phi}")


def family_comparison(search: CoefficientSearch, data: dict[str, Any]) -> Comparison | None:
    """Step 2's comparison once the choice is made: the chosen family against the paper's coefficients at phi =
    1..family, on the grid's proxy with fresh seeds, pair by pair; None before the choice, or when the choice is
    the paper's. A phi where both build the same network is left out (nothing to compare)."""
    if data.get("alpha") is None:
        return None
    chosen = (data["alpha"], data["beta"], data["gamma"])
    if chosen == PAPER:
        return None
    models: dict[str, NetSpec] = {}
    pairs = []
    for phi in range(1, search.family + 1):
        try:
            mine, paper = (family_spec(search.baseline, c, phi, search.repeat_rounding) for c in (chosen, PAPER))
            for spec in (mine, paper):
                analyze(spec, num_classes=search.num_classes or 10)
        except SpecError as error:
            raise InputError(f"Step 2 stops before phi = {phi}: {error}") from None
        if architecture_key(mine) == architecture_key(paper):
            continue
        models[f"chosen-phi{phi}"], models[f"paper-phi{phi}"] = mine, paper
        pairs.append((f"chosen-phi{phi}", f"paper-phi{phi}"))
    if not pairs:
        return None
    return Comparison(models, seeds=search.family_seeds, proxy=search.proxy, num_classes=search.num_classes,
                      first_seed=search.family_first_seed, kind=STEP2_KIND, pairs=tuple(pairs))


def step2_rows(compared: dict[str, Any]) -> dict[str, Any]:
    """Step 2's result, phi by phi: both networks' cost and scores and their paired difference (Holm-corrected)."""
    summary = {s["model"]: s for s in compared["summary"]}
    split = compared["score_split"]
    rows = []
    for pair in compared["paired"]:
        mine, paper = summary[pair["model"]], summary[pair["against"]]
        rows.append({"phi": int(pair["model"].rsplit("phi", 1)[1]),
                     **{f"{who}_{key}": entry[key] for who, entry in (("chosen", mine), ("paper", paper))
                        for key in ("macs", "params", "resolution", "val_top1_mean", "val_top1_std",
                                    f"{split}_top1_mean", f"{split}_top1_std", "trials")},
                     "macs_ratio": round(mine["macs"] / paper["macs"], 4), "difference": pair})
    inputs = compared["inputs"]
    return {"seeds": inputs["seeds"], "first_seed": inputs["first_seed"], "counts": compared["counts"],
            "score_split": split, "rows": rows}


def grid_rows(engine: Engine, search: CoefficientSearch) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per candidate: nominal product, real MACs ratio, validation and test top-1 over the grid's seeds (trained
    ones), how many were pruned; and the steps the grid trained against the steps of the unpruned grid."""
    candidates = engine.all_derived()["candidates"]
    val: dict[str, list[float]] = defaultdict(list)
    test: dict[str, list[float]] = defaultdict(list)
    pruned: dict[str, int] = defaultdict(int)
    steps, full_steps = 0, None
    for record in engine.records():
        if record.state not in ("complete", "pruned"):
            continue
        key = label(record.params["alpha"], record.params["beta"], record.params["gamma"])
        curve = record.metrics.get("curve") or []
        steps += int(record.metrics.get("steps") or (curve[-1]["step"] if curve else 0))
        if record.state == "complete":
            val[key].append(float(record.metrics["val_top1"]))
            if record.metrics.get("test_top1") is not None:
                test[key].append(float(record.metrics["test_top1"]))
            full_steps = full_steps or record.metrics.get("steps")
        else:
            pruned[key] += 1
    rows = []
    for key, info in candidates.items():
        a, b, g = parse_label(key)
        vm, vs = summarize(val[key]) if val[key] else (None, None)
        tm, ts = summarize(test[key]) if test[key] else (None, None)
        rows.append({"label": key, "alpha": a, "beta": b, "gamma": g, "paper": info.get("paper", False),
                     "same_network": info.get("same_network"), "product": info["product"],
                     "macs_ratio": info["macs_ratio"], "params": info["params"],
                     "macs": info["macs"], "val_top1_mean": vm, "val_top1_std": vs, "test_top1_mean": tm,
                     "test_top1_std": ts, "trained": len(val[key]), "pruned": pruned[key]})
    planned = len(engine.plan.trials)
    compute = {"steps_trained": steps, "steps_full_grid": full_steps * planned if full_steps else None,
               "trials_pruned": sum(pruned.values()), "trials": planned}
    if compute["steps_full_grid"]:
        compute["fraction_of_full_grid"] = round(steps / compute["steps_full_grid"], 4)
    return rows, compute


def write_outputs(engine: Engine, search: CoefficientSearch, folder: Path, counts: dict[str, int],
                  confirmed: dict[str, Any] | None = None, compared: dict[str, Any] | None = None) -> dict[str, Any]:
    """coefficients.json, report.md and the figure; the choice (and the family) once the grid and its confirm
    phase have both finished; Step 2's comparison once it has run."""
    rows, compute = grid_rows(engine, search)
    ranked = sorted((r for r in rows if r["trained"] == search.seeds), key=lambda r: (-r["val_top1_mean"], r["macs"]))
    data: dict[str, Any] = {"study": engine.plan.name, "inputs": engine.plan.inputs, "counts": counts,
                            "selection_split": "val", "alpha": None, "beta": None, "gamma": None,
                            "candidates": sorted(rows, key=lambda r: -(r["val_top1_mean"] or -1.0)),
                            "ranking": [r["label"] for r in ranked], "compute": compute,
                            "settings": {"confirm": search.confirm, "confirm_seeds": search.confirm_seeds,
                                         "family": search.family, "family_seeds": search.family_seeds}}
    complete = counts["done"] >= counts["planned"]
    if confirmed is not None:
        names = list(confirmed["inputs"]["models"])
        choice = winner(confirmed["trials"], names, "val_top1")
        data["confirm"] = {"candidates": names, "seeds": confirmed["inputs"]["seeds"],
                           "first_seed": confirmed["inputs"]["first_seed"], "counts": confirmed["counts"],
                           "summary": confirmed["summary"], "winner": choice,
                           "grid_winner": ranked[0]["label"] if ranked else None}
        if choice is not None and confirmed["counts"]["done"] >= confirmed["counts"]["planned"]:
            data["choice_source"] = "confirm"
            best_key = choice["model"]
        else:
            best_key = None
    elif ranked and complete and not search.confirm:
        data["choice_source"] = "grid"
        best_key = ranked[0]["label"]
    else:
        best_key = None
    if best_key is not None:
        best = next(r for r in rows if r["label"] == best_key)
        data.update(alpha=best["alpha"], beta=best["beta"], gamma=best["gamma"], best=best)
        if search.family:
            data["family"] = write_family(search.baseline, best["alpha"], best["beta"], best["gamma"], search.family,
                                          folder / FAMILY, search.num_classes or 10, search.repeat_rounding)
    if compared is None and data["alpha"] is not None:  # Step 2's trials so far, when it has run for this choice
        compared = recorded_step2(folder / STEP2, search, data)
    if compared is not None:
        data["family_comparison"] = step2_rows(compared)
    elif search.family_seeds and data["alpha"] is not None and family_comparison(search, data) is not None:
        data["step2_pending"] = True  # asked for, with something to compare, and no trial finished yet
    with atomic_path(folder / COEFFICIENTS) as temp:
        temp.write_text(json.dumps(data, indent=2, allow_nan=False))
    if ranked:
        points = {"candidate (mean val top-1)": [(r["macs_ratio"], r["val_top1_mean"]) for r in ranked
                                                 if not r["paper"]],
                  "the paper's (1.2, 1.1, 1.15)": [(r["macs_ratio"], r["val_top1_mean"]) for r in ranked
                                                   if r["paper"]]}
        best = data.get("best")
        chosen = None if best is None or best["val_top1_mean"] is None else (
            best["macs_ratio"], best["val_top1_mean"], f"({best['alpha']:g}, {best['beta']:g}, {best['gamma']:g})")
        proxy = search.proxy
        note = (f"{search.seeds} seed(s) per candidate, {proxy.epochs} epoch(s) on {proxy.limit_train or 'all'} "
                f"training images; mean validation top-1 (the choice: {data.get('choice_source', 'not made yet')})")
        scatter(points, folder / FIGURE, xlabel="real MACs ratio at phi = 1 (after rounding)",
                ylabel="validation top-1 (%)", title=f"Step-1 grid on {search.baseline.name}", chosen=chosen,
                note=note)
    with atomic_path(folder / REPORT) as temp:
        temp.write_text(markdown(data, search))
    return data


def write_family(baseline: NetSpec, alpha: float, beta: float, gamma: float, count: int, folder: Path,
                 num_classes: int = 10, repeat_rounding: str = "ceil") -> list[dict[str, Any]]:
    """Step 2: phi = 1..count with the chosen coefficients, each as a spec file (`phiN.json`) with its profile,
    which every command accepts as a model."""
    folder.mkdir(parents=True, exist_ok=True)
    family = []
    for phi in range(1, count + 1):
        try:
            spec = family_spec(baseline, (alpha, beta, gamma), phi, repeat_rounding)
            profile = analyze(spec, num_classes=num_classes)
        except SpecError as error:
            raise InputError(f"the family stops before phi = {phi}: {error}") from None
        path = folder / f"phi{phi}.json"
        with atomic_path(path) as temp:
            temp.write_text(json.dumps({"spec": spec.to_dict(), "profile": profile.to_dict()}, indent=2))
        family.append({"phi": phi, "file": str(path.relative_to(folder.parent)), "resolution": spec.resolution,
                       "params": profile.params, "macs": profile.macs})
    return family


def points_text(labels: list[str]) -> str:
    """Grid points as the reader knows them: "(1, 1.1, 1.2), (1.05, 1.1, 1.2)"."""
    return ", ".join(f"({', '.join(f'{v:g}' for v in parse_label(text))})" for text in labels)


def networks_kept(rows: list[dict[str, Any]]) -> str:
    """What the grid kept: distinct networks and the grid points they stand for (a record written before effnet
    merged identical networks says only how many candidates it trained)."""
    if any(r.get("same_network") is None for r in rows):
        return f"{len(rows)} candidates"
    points = sum(1 + len(r["same_network"]) for r in rows)
    built = "" if points == len(rows) else f" (built by {points} grid points: rounding makes some the same network)"
    return f"{len(rows)} distinct phi = 1 networks{built}"


def same_as(best: dict[str, Any]) -> str:
    """The grid points Step 1 cannot tell from the chosen one: they build the same phi = 1 network."""
    others = best.get("same_network") or []
    if not others:
        return ""
    return (f" The same phi = 1 network is built by {points_text(others)}: Step 1 cannot tell them apart (they "
            "differ only at larger phi); the point named stands for them (the paper's if among them, else the one "
            "whose alpha * beta^2 * gamma^2 is nearest the target).")


def _score(entry: dict[str, Any], metric: str, count: int) -> str:
    return score_text(entry[f"{metric}_mean"], entry[f"{metric}_std"], count)


def markdown(data: dict[str, Any], search: CoefficientSearch) -> str:
    proxy, counts, compute = search.proxy, data["counts"], data["compute"]
    lines = [f"# Step-1 coefficient search: {search.baseline.name}", "",
             f"Grid {search.low:g}..{search.high:g} step {search.step:g}, kept where the phi = 1 network's real MACs "
             f"ratio is within {search.tolerance:g} of {search.target:g} (the paper's 1.2, 1.1, 1.15 always kept): "
             f"{networks_kept(data['candidates'])}, each trained at phi = 1 with {search.seeds} seed(s) on "
             f"`{proxy.data}` ({proxy.epochs} epoch(s), {proxy.limit_train or 'all'} training images, baseline at "
             f"{search.baseline.resolution} px), ranked on the validation split ({proxy.val_split}, "
             f"{proxy.limit_val or 'all'} images){', pruner ' + search.pruner if search.pruner != 'none' else ''}.",
             f"Grid trials: {counts['done']} of {counts['planned']} done"
             + "".join(f", {counts[k]} {k}" for k in ("failed", "interrupted") if counts.get(k)) + "."]
    if compute.get("fraction_of_full_grid") is not None and search.pruner != "none":
        lines.append(f"Multi-fidelity: {compute['trials_pruned']} of {compute['trials']} trials pruned; the grid "
                     f"trained {compute['steps_trained']:,} steps, {compute['fraction_of_full_grid']:.0%} of the "
                     f"{compute['steps_full_grid']:,} the full grid would have.")
    paper = next((r for r in data["candidates"] if r["paper"]), None)
    if paper is not None and abs(paper["macs_ratio"] - search.target) > search.tolerance + 1e-12:
        lines.append(f"Not at equal cost: the paper's (1.2, 1.1, 1.15) builds {paper['macs_ratio']:.2f}x the "
                     f"baseline's MACs here (rounding), outside the tolerance; it is kept for comparison, at "
                     f"{paper['macs_ratio'] / search.target - 1:+.0%} compute against the target.")
    lines.append("")
    confirm = data.get("confirm")
    if data["alpha"] is not None:
        lines += [f"Chosen: **alpha = {data['alpha']:g}, beta = {data['beta']:g}, gamma = {data['gamma']:g}** "
                  f"(paper: 1.2, 1.1, 1.15), by mean validation top-1"
                  + (" in the confirm phase." if data.get("choice_source") == "confirm" else " on the grid.")
                  + same_as(data["best"]), ""]
    elif counts["done"] < counts["planned"]:
        lines += [f"No choice yet: the grid has {counts['done']} of {counts['planned']} trials finished.", ""]
    elif search.confirm and confirm is None:
        lines += ["No choice yet: the confirm phase has not run.", ""]
    elif confirm is not None:
        lines += [f"No choice yet: the confirm phase has {confirm['counts']['done']} of {confirm['counts']['planned']} "
                  "trials finished.", ""]
    if confirm is not None:
        choice = confirm["winner"]
        lines += [f"## Confirm phase: the top {len(confirm['candidates'])} trained again with {confirm['seeds']} "
                  f"fresh seeds (from seed {confirm['first_seed']})", "",
                  "| candidate | val top-1 | test top-1 |", "|---|---|---|"]
        lines += [f"| {s['model']} | {_score(s, 'val_top1', s['trials'])} | "
                  f"{_score(s, 'test_top1', s['trials'])} |" for s in confirm["summary"]]
        if choice is not None and choice["runner_up"] is not None:
            d = choice["difference"]
            interval = ("no interval (one seed)" if d["low"] is None else
                        f"95% CI [{d['low']:+.2f}, {d['high']:+.2f}]")
            lines += ["", f"Winner {choice['model']} against the runner-up {choice['runner_up']}: "
                      f"{d['mean']:+.2f} points of validation top-1, {interval}: "
                      + ("the winner is better." if choice["distinguishable"] else
                         "**the winner cannot be told from the runner-up** at this number of seeds.")]
        if confirm["grid_winner"] and choice is not None and confirm["grid_winner"] != choice["model"]:
            lines.append(f"The grid's best ({confirm['grid_winner']}) did not hold up in the confirm phase.")
        lines.append("")
    lines += ["## Grid (validation split; test for the record)", "",
              "| alpha | beta | gamma | a b^2 g^2 | real MACs ratio | val top-1 | test top-1 | trained | pruned | "
              "same network |", "|---|---|---|---|---|---|---|---|---|---|"]
    for row in data["candidates"]:
        paper = " (paper)" if row["paper"] else ""
        same = points_text(row.get("same_network") or [])
        lines.append(f"| {row['alpha']:g}{paper} | {row['beta']:g} | {row['gamma']:g} | {row['product']:.3f} | "
                     f"{row['macs_ratio']:.3f} | {_score(row, 'val_top1', row['trained'])} | "
                     f"{_score(row, 'test_top1', row['trained'])} | {row['trained']} | {row['pruned']} | "
                     f"{same or '-'} |")
    if data.get("family"):
        lines += ["", "## Step 2: the family", "", "| phi | file | resolution | params | MACs |",
                  "|---|---|---|---|---|"]
        lines += [f"| {f['phi']} | `{f['file']}` | {f['resolution']} | {f['params']:,} | {f['macs'] / 1e6:.1f}M |"
                  for f in data["family"]]
        lines += step2_markdown(data)
    return "\n".join(lines) + "\n"


def step2_markdown(data: dict[str, Any]) -> list[str]:
    """Step 2's comparison section (from coefficients.json's data alone)."""
    step2 = data.get("family_comparison")
    if step2 is None:
        if not (data.get("settings") or {}).get("family_seeds") or data["alpha"] is None:
            return []
        if (data["alpha"], data["beta"], data["gamma"]) == PAPER:
            return ["", "The chosen coefficients are the paper's: Step 2 has no other family to compare."]
        if data.get("step2_pending"):
            return ["", f"Step 2 (the chosen family against the paper's coefficients at phi = 1 to "
                        f"{len(data.get('family') or [])}) has no finished trial yet; its results will be in "
                        f"`{STEP2}/`."]
        return ["", "The chosen and the paper's coefficients build the same network at every phi: Step 2 has "
                    "nothing to compare."]
    split, counts = step2["score_split"], step2["counts"]
    lines = ["", "## Step 2: the chosen family against the paper's (1.2, 1.1, 1.15) at the same phi", "",
             f"Both families rounded alike, trained on the grid's proxy with {step2['seeds']} fresh seed(s) (from "
             f"seed {step2['first_seed']}: none of the seeds the choice was made on), paired by seed; {split} split, "
             f"95% intervals, Holm-corrected across the phi. Trials: {counts['done']} of {counts['planned']} done.",
             "", f"| phi | chosen MMACs | paper's MMACs | chosen {split} top-1 | paper's {split} top-1 | "
                 "chosen - paper [95% CI] | p (Holm) | verdict for the chosen |", "|---|---|---|---|---|---|---|---|"]
    unequal = []
    for row in step2["rows"]:
        d = row["difference"]
        lines.append(f"| {row['phi']} | {row['chosen_macs'] / 1e6:.2f} | {row['paper_macs'] / 1e6:.2f} | "
                     f"{_score(row, f'chosen_{split}_top1', row['chosen_trials'])} | "
                     f"{_score(row, f'paper_{split}_top1', row['paper_trials'])} | "
                     f"{difference_text(d)} | {holm_text(d)} | {d['verdict']} |")
        if abs(row["macs_ratio"] - 1) > COST_TOLERANCE:
            unequal.append(f"{row['macs_ratio']:.2f}x at phi = {row['phi']}")
    compared = {row["phi"] for row in step2["rows"]}
    same = [str(f["phi"]) for f in data.get("family") or [] if f["phi"] not in compared]
    if same:
        lines += ["", f"At phi = {', '.join(same)} both coefficients build the same network: nothing to compare."]
    if unequal:
        lines += ["", f"Not at equal cost: the chosen network's MACs are {', '.join(unequal)} the paper's (rounding); "
                      "a difference there mixes the coefficients with compute."]
    return lines


__all__ = ["CONFIRM_KIND", "KIND", "PAPER", "PRUNERS", "STEP2_KIND", "CoefficientSearch", "architecture_key",
           "family_comparison", "family_spec", "label", "objective", "run_coefficient_search", "size_candidates",
           "write_family"]
