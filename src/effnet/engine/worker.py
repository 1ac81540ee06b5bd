"""A worker process: take queued trials one at a time, ask the sampler for new ones while a search's budget lasts,
run the objective, and record how each trial ended -- all through Optuna's public API: `Study.optimize` for one
trial at a time (it pops a queued trial atomically, runs a database storage's heartbeat and fails its stale
trials), `Trial.set_user_attr` for the results, and the trial's state for how it ended."""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.exceptions import TrialPruned
from optuna.trial import FrozenTrial, TrialState

from .heartbeat import beating, fail_stale, worker_id
from .plan import (
    DERIVED,
    DUPLICATE,
    ERROR_ATTR,
    IDLE,
    INTERRUPTED,
    KEY,
    NOT_RESULTS,
    OVER_BUDGET,
    RETRY_ATTR,
    STALE,
    TRIALS_FOLDER,
    WORKER_ATTR,
    Objective,
    Plan,
    TrialContext,
    error_of,
    failing_streak,
    first_line,
    make_pruner,
    resolve,
    trial_slug,
)
from .storage import open_storage


def make_sampler(plan: Plan, worker: int) -> optuna.samplers.BaseSampler | None:
    """The plan's sampler for one worker (each worker gets its own seed, so they do not propose alike)."""
    if plan.sampler is None:
        return None
    return resolve(plan.sampler)(seed=plan.seed + 1000 * worker, **plan.sampler_args)


@dataclass(frozen=True)
class WorkerJob:
    """What a worker process needs (picklable for the spawn start method)."""

    plan: Plan
    output: str
    storage: str | None
    objective: str
    threads: int
    index: int = 0
    started: float | None = None  # when the run began (Unix seconds): failures before it do not stop this one


class _NoTrial(Exception):
    """The trial `optimize` created is not one to run (the queue emptied meanwhile, or the budget is spent)."""


class _Failed(Exception):
    """The objective failed; its error is recorded on the trial."""


def work(job: WorkerJob) -> None:
    """A worker: run queued trials one at a time; then, for a search, ask the sampler for new ones until the study
    has its number of trials. It stops early when the study's last trials failed one after another
    (`Plan.max_failures`): the coordinator reports the error."""
    torch.set_num_threads(job.threads)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # effnet reports each trial's end in one line itself
    storage = open_storage(Path(job.output), job.storage)
    study = optuna.load_study(study_name=job.plan.name, storage=storage, sampler=make_sampler(job.plan, job.index),
                              pruner=make_pruner(job.plan.pruner, **job.plan.pruner_args))
    objective = resolve(job.objective)
    fail_stale(study, storage)
    while _has_work(study, job.plan) and \
            failing_streak(study.get_trials(deepcopy=False), job.plan, job.started) is None:
        study.optimize(lambda trial: _run(trial, storage, objective, job), n_trials=1, catch=(_NoTrial, _Failed))


def work_in_process(job: WorkerJob) -> None:
    """`work` as a worker process's target: Ctrl-C stops it quietly (its trial is recorded as interrupted and
    resumes from its last checkpoint), without a traceback per worker."""
    try:
        work(job)
    except KeyboardInterrupt:
        sys.exit(130)


def _has_work(study: optuna.Study, plan: Plan) -> bool:
    """A queued trial, or room in a search's budget."""
    trials = study.get_trials(deepcopy=False)
    if any(t.state == TrialState.WAITING for t in trials):
        return True
    return bool(plan.asks) and _attempts(trials) < plan.total


def _attempts(trials: Sequence[FrozenTrial]) -> int:
    """Trials that took part in a search's budget: running, finished and failed ones -- never the engine's own
    no-ops, an interrupted trial or one whose process died (both run again) -- so a search whose candidates fail
    cannot propose without end."""
    return sum(t.state != TrialState.WAITING and error_of(t) not in (*NOT_RESULTS, INTERRUPTED, STALE)
               for t in trials)


def planned_params(trial: optuna.Trial | FrozenTrial) -> dict[str, Any] | None:
    """A planned trial's parameters (from its key), or None for a sampler's proposal."""
    key = trial.user_attrs.get(KEY)
    return json.loads(key) if isinstance(key, str) else None


def _run(trial: optuna.Trial, storage: optuna.storages.BaseStorage, objective: Objective, job: WorkerJob) -> Any:
    """The body of one `optimize` trial: which trial it is, the objective with a heartbeat, and its results as
    user attributes; raises `_NoTrial` / `_Failed` (recorded as failed) or `TrialPruned`."""
    study, plan = trial.study, job.plan
    params = planned_params(trial)
    if params is None and trial.user_attrs.get(RETRY_ATTR) is None and not plan.asks:
        trial.set_user_attr(ERROR_ATTR, IDLE)  # another worker took the last queued trial first
        raise _NoTrial(IDLE)
    if params is None and not _within_budget(study, trial.number, plan.total):
        trial.set_user_attr(ERROR_ATTR, OVER_BUDGET)
        raise _NoTrial(OVER_BUDGET)
    trial.set_user_attr(WORKER_ATTR, worker_id())
    if params is not None and _taken_elsewhere(study, trial.user_attrs[KEY], trial.number, plan):
        trial.set_user_attr(ERROR_ATTR, DUPLICATE)
        raise _NoTrial("duplicate")
    derived = {name[len(DERIVED):]: value for name, value in study.user_attrs.items() if name.startswith(DERIVED)}
    folder = Path(job.output) / TRIALS_FOLDER / trial_slug(params if params is not None else {"n": trial.number})
    with beating(storage, trial):
        try:
            metrics = objective(params if params is not None else {}, TrialContext(derived, folder, trial))
        except TrialPruned:
            raise
        except (KeyboardInterrupt, SystemExit):
            trial.set_user_attr(ERROR_ATTR, INTERRUPTED)
            raise
        except Exception as error:  # one failed trial must not stop the study; it is recorded
            message = f"{type(error).__name__}: {first_line(error)}"
            trial.set_user_attr(ERROR_ATTR, message)
            what = json.dumps(params, sort_keys=True) if params is not None else f"proposal {trial.number}"
            print(f"effnet: warning: trial {trial.number} ({what}) failed: {message}", file=sys.stderr)
            if os.environ.get("EFFNET_DEBUG"):
                traceback.print_exc()
            raise _Failed(message) from None
    for name, value in metrics.items():
        if name != "value":
            trial.set_user_attr(name, value)
    values = metrics["value"]
    return [float(v) for v in values] if isinstance(values, (list, tuple)) else float(values)


def _within_budget(study: optuna.Study, number: int, total: int) -> bool:
    """Whether a new proposal numbered `number` is within the search's budget: trial numbers are handed out
    atomically, so of racing workers only those within the budget keep theirs."""
    ahead = [t for t in study.get_trials(deepcopy=False) if t.number < number]
    return _attempts(ahead) < total


def _taken_elsewhere(study: optuna.Study, key: str, number: int, plan: Plan) -> bool:
    """Whether another trial with the same parameters is finished or running (a duplicate enqueue)."""
    for other in study.get_trials(deepcopy=False, states=(*plan.finished_states, TrialState.RUNNING)):
        same = other.number != number and other.user_attrs.get(KEY) == key
        if same and (other.state != TrialState.RUNNING or other.number < number):
            return True
    return False


__all__ = ["WorkerJob", "make_sampler", "planned_params", "work", "work_in_process"]
