"""What a study is: its plan (the trials, or a sampler's budget of proposals), a trial's identity and context, and
what is read back from it (records, throughput)."""

from __future__ import annotations

import hashlib
import importlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import TrialPruned
from optuna.trial import FrozenTrial, TrialState

from ..errors import InputError

STUDY_FILE, JOURNAL_FILE = "study.json", "study.journal"
TRIALS_FOLDER = "trials"  # the trainer's run folder of each trial, inside the study folder
KEY, HEARTBEAT_ATTR, ERROR_ATTR, WORKER_ATTR = "effnet.key", "effnet.heartbeat", "effnet.error", "effnet.worker"
RETRY_ATTR = "effnet.retry_of"
DERIVED = "effnet.derived."
# How a trial that is not a result ended (its ERROR_ATTR): stopped by Ctrl-C or a signal (it runs again), or one
# of the engine's own no-ops -- a trial created when the queue had just emptied, or beyond a search's budget.
INTERRUPTED, IDLE, OVER_BUDGET = "interrupted", "no queued trial left", "beyond the study's trial budget"
DUPLICATE = "duplicate of a trial already run"
NOT_RESULTS = (IDLE, OVER_BUDGET, DUPLICATE)
STALE = "its process stopped without finishing it"  # a FAIL without an error: failed as stale

# Bounds every plan and run is checked against before anything starts (what one machine, or a few, can hold).
MAX_TRIALS, MAX_SEEDS, MAX_WORKERS, MAX_THREADS, MAX_FAILURES = 10_000, 100, 64, 256, 1_000

Params = dict[str, Any]
Objective = Callable[[Params, "TrialContext"], dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """A study: its `kind`, the `inputs` it was made from (a study made from other inputs is refused), and the
    parameter sets of its trials, in order (each a flat dict of JSON scalars).

    A search adds `asks` trials proposed by a sampler (`sampler` is "module:function", called with a seed, giving
    an Optuna sampler) after the enqueued ones, and may have several objectives (`directions`). `pruner` (a name
    in `PRUNERS`) lets weak trials stop early; without one a trial always runs to its end. After `max_failures`
    trials in a row fail, the study stops with their error instead of failing every trial that is left."""

    kind: str
    inputs: dict[str, Any]
    trials: tuple[Params, ...]
    asks: int = 0
    sampler: str | None = None
    sampler_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    directions: tuple[str, ...] = ("maximize",)
    pruner: str | None = None
    pruner_args: dict[str, Any] = field(default_factory=dict)
    max_failures: int = 3

    def __post_init__(self) -> None:
        check_count("max-failures", self.max_failures, MAX_FAILURES)
        if len(self.trials) + self.asks > MAX_TRIALS:
            raise InputError(f"the {self.kind} would run {len(self.trials) + self.asks:,} trials, more than "
                             f"{MAX_TRIALS:,}")
        if self.pruner is not None and self.pruner not in PRUNERS:
            raise InputError(f"pruner must be one of {', '.join(PRUNERS)}, got {self.pruner!r}")
        keys = [trial_key(params) for params in self.trials]
        if len(set(keys)) != len(keys):
            raise InputError(f"the {self.kind} plan has a repeated trial")
        if not self.trials and self.asks < 1:
            raise InputError(f"the {self.kind} plan has no trials")
        if self.asks and self.sampler is None:
            raise InputError("a plan with sampler-proposed trials needs a sampler")

    @property
    def finished_states(self) -> tuple[TrialState, ...]:
        """The states in which a trial of this study has its result: a pruned trial counts only where the plan
        prunes (elsewhere it is an accident -- see `make_pruner` -- and runs again)."""
        return (TrialState.COMPLETE, TrialState.PRUNED) if self.pruner else (TrialState.COMPLETE,)

    @property
    def total(self) -> int:
        """How many trials the study runs in all."""
        return len(self.trials) + self.asks

    @property
    def name(self) -> str:
        """The Optuna study name: the kind and a hash of the inputs, so studies of other configurations can share
        one database without meeting."""
        digest = hashlib.sha256(json.dumps(self.inputs, sort_keys=True).encode()).hexdigest()[:10]
        return f"effnet-{self.kind}-{digest}"


PRUNERS = ("median", "halving", "hyperband")


def check_count(name: str, value: object, limit: int, low: int = 1) -> int:
    """A count option within [low, limit], or a one-line error naming it (checked before any work)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= limit:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:40] + "..."
        raise InputError(f"{name} must be an integer in [{low}, {limit:,}], got {shown}")
    return value


def make_pruner(name: str | None, max_resource: int | None = None) -> optuna.pruners.BasePruner:
    """The plan's pruner, made alike in every process. Optuna does not store a pruner with a study: a process that
    loads a study without naming one gets Optuna's default MedianPruner, which would prune a study that never
    asked for it. A trial's resource is its validation points (`max_resource` of them in a full schedule):
    successive halving keeps the best third at each rung, Hyperband runs several such brackets."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max_resource or "auto",
                                              reduction_factor=3)
    return optuna.pruners.NopPruner()


def trial_key(params: Mapping[str, Any]) -> str:
    """The identity of a trial: its parameters as canonical JSON."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))


def trial_slug(params: Mapping[str, Any]) -> str:
    """A short, file-name-safe name for a trial's folder."""
    readable = "-".join(f"{value:g}" if isinstance(value, float) else f"{value}" for value in params.values()
                        if isinstance(value, (str, int, float)) and not isinstance(value, bool))[:60]
    digest = hashlib.sha256(trial_key(params).encode()).hexdigest()[:8]
    safe = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in readable)
    return f"{safe}-{digest}"


@dataclass
class TrialContext:
    """What an objective gets besides its parameters: the study's derived data (shared by all workers), the
    trial's own folder, and `report(step, value)` for pruning (raises `optuna.TrialPruned` when told to stop)."""

    derived: dict[str, Any]
    folder: Path
    trial: optuna.Trial | None = None

    @property
    def root(self) -> Path:
        """The study's folder of trial folders (a search names its candidates' folders itself)."""
        return self.folder.parent

    def report(self, step: int, value: float) -> None:
        if self.trial is None or not math.isfinite(value) or len(self.trial.study.directions) > 1:
            return  # Optuna prunes single-objective studies only
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise TrialPruned(f"pruned at step {step} (value {value:.4g})")


@dataclass
class Record:
    """One trial as stored: number, state, parameters and everything the objective returned (`value` first)."""

    number: int
    state: str
    params: Params
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return trial_key(self.params)


def times(trial: FrozenTrial) -> dict[str, float]:
    """When a trial started and finished (Unix seconds), for throughput figures."""
    out = {}
    if trial.datetime_start is not None:
        out["started"] = trial.datetime_start.timestamp()
    if trial.datetime_complete is not None:
        out["finished"] = trial.datetime_complete.timestamp()
    return out


def throughput(records: Sequence[Record]) -> dict[str, float] | None:
    """Finished trials per hour of busy wall-clock time: the union of the finished trials' run intervals, so the
    hours a study sat idle between sessions (stopped, then resumed) do not count."""
    done = sorted((r.metrics["started"], r.metrics["finished"]) for r in records
                  if r.state == "complete" and "started" in r.metrics and "finished" in r.metrics)
    if not done:
        return None
    busy, (start, end) = 0.0, done[0]
    for begin, finish in done[1:]:
        if begin > end:
            busy, start = busy + (end - start), begin
        end = max(end, finish)
    busy += end - start
    return {"trials": len(done), "wall_hours": round(busy / 3600, 3),
            "trials_per_hour": round(len(done) / (busy / 3600), 2) if busy > 0 else None}


def error_of(trial: FrozenTrial) -> str | None:
    """How a FAIL trial failed: its recorded error, or that its process died (failed as stale)."""
    if trial.state != TrialState.FAIL:
        return None
    error = trial.user_attrs.get(ERROR_ATTR)
    return error if isinstance(error, str) else STALE


def failing_streak(trials: Sequence[FrozenTrial], plan: Plan, since: float | None = None) -> str | None:
    """The error of the study's last `plan.max_failures` trials when every one of them failed (finished at or after
    `since`, Unix seconds; interrupted trials and the engine's no-ops do not count): the study should stop."""
    ended = [t for t in trials if t.state.is_finished() and t.datetime_complete is not None
             and (since is None or t.datetime_complete.timestamp() >= since)
             and t.user_attrs.get(ERROR_ATTR) not in (*NOT_RESULTS, INTERRUPTED)]
    last = sorted(ended, key=lambda t: (t.datetime_complete, t.number))[-plan.max_failures:]
    if len(last) < plan.max_failures or any(t.state != TrialState.FAIL for t in last):
        return None
    errors = [error_of(t) for t in last]
    same = all(error == errors[-1] for error in errors)
    return (f"{plan.max_failures} trials in a row failed{' with the same error' if same else ''}: "
            f"{errors[-1]}")


def first_difference(old: Any, new: Any, path: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'inputs'}: was {json.dumps(old)[:80]}, now {json.dumps(new)[:80]}"


def resolve(objective: str) -> Objective:
    """The objective function named "module:function"."""
    module, _, name = objective.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise InputError(f"no objective {objective!r}") from None


def summarize(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def score_text(mean: float | None, std: float | None, count: int) -> str:
    """A report's "mean +- std" over `count` runs: "-" for none, the mean alone for one (its spread is unknown,
    not zero)."""
    if mean is None:
        return "-"
    if count < 2 or std is None:
        return f"{mean:.2f}"
    return f"{mean:.2f} +- {std:.2f}"



def first_line(error: BaseException) -> str:
    """The first line of an error's message (or its type), for one-line reports."""
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
