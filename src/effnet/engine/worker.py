"""A worker process: claim queued trials one at a time (Optuna's atomic pop), ask the sampler for new ones while a
search's budget lasts, run the objective with a heartbeat, and record how each trial ended."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import optuna
import torch
from optuna.exceptions import TrialPruned
from optuna.trial import FrozenTrial, TrialState

from .plan import (
    DERIVED,
    ERROR_ATTR,
    HEARTBEAT,
    HEARTBEAT_ATTR,
    KEY,
    WORKER_ATTR,
    Objective,
    Plan,
    TrialContext,
    first_line,
    make_pruner,
    resolve,
    trial_key,
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


OVER_BUDGET = "beyond the study's trial budget"


def work(job: WorkerJob) -> None:
    """A worker: claim waiting trials one at a time and run them; then, for a search, ask the sampler for new ones
    until the study has its number of trials."""
    torch.set_num_threads(job.threads)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(Path(job.output), job.storage)
    study = optuna.load_study(study_name=job.plan.name, storage=storage, sampler=make_sampler(job.plan, job.index),
                              pruner=make_pruner(job.plan.pruner))
    objective = resolve(job.objective)
    while True:
        trial_id = study._pop_waiting_trial_id()  # Optuna's atomic claim: WAITING -> RUNNING for one process
        if trial_id is None and job.plan.asks:
            trial_id = _ask_within_budget(study, job.plan.total)
        if trial_id is None:
            return
        _run_one(study, trial_id, objective, job)


def work_in_process(job: WorkerJob) -> None:
    """`work` as a worker process's target: Ctrl-C stops it quietly (its trial is already recorded as interrupted
    and resumes from its last checkpoint), without a traceback per worker."""
    try:
        work(job)
    except KeyboardInterrupt:
        sys.exit(130)


def _ask_within_budget(study: optuna.Study, total: int) -> int | None:
    """A new sampler-proposed trial if the study has fewer than `total` (trials that did not fail); trial numbers
    are handed out atomically, so of racing workers only those within the budget keep theirs."""
    def counted(trials: Sequence[FrozenTrial]) -> list[FrozenTrial]:
        return [t for t in trials if t.state != TrialState.FAIL]

    if len(counted(study._storage.get_all_trials(study._study_id, deepcopy=False))) >= total:
        return None
    trial = study.ask()
    ahead = [t for t in counted(study._storage.get_all_trials(study._study_id, deepcopy=False))
             if t.number < trial.number]
    if len(ahead) >= total:
        study._storage.set_trial_user_attr(trial._trial_id, ERROR_ATTR, OVER_BUDGET)
        study.tell(trial, state=TrialState.FAIL)
        return None
    return trial._trial_id


def _run_one(study: optuna.Study, trial_id: int, objective: Objective, job: WorkerJob) -> None:
    """Run one claimed trial and record how it ended (finished, pruned, failed with its error)."""
    trial = optuna.trial.Trial(study, trial_id)
    storage = study._storage
    frozen = storage.get_trial(trial_id)
    params = dict(frozen.system_attrs.get("fixed_params", {}))
    key = frozen.user_attrs.get(KEY, trial_key(params))
    storage.set_trial_user_attr(trial_id, WORKER_ATTR, worker_id())
    with _heartbeat(study, trial_id):
        try:
            if _taken_elsewhere(study, key, frozen.number, job.plan.finished_states):
                storage.set_trial_user_attr(trial_id, ERROR_ATTR, "duplicate of a trial already run")
                study.tell(trial, state=TrialState.FAIL)
                return
            derived = {name[len(DERIVED):]: value for name, value in study.user_attrs.items()
                       if name.startswith(DERIVED)}
            context = TrialContext(derived, Path(job.output) / "trials" / trial_slug(params), trial)
            metrics = objective(params, context)
            for name, value in metrics.items():
                trial.set_user_attr(name, value)
            values = metrics["value"]
            study.tell(trial, [float(v) for v in values] if isinstance(values, (list, tuple)) else float(values))
        except TrialPruned:
            study.tell(trial, state=TrialState.PRUNED)
        except (KeyboardInterrupt, SystemExit):
            storage.set_trial_user_attr(trial_id, ERROR_ATTR, "interrupted")
            study.tell(trial, state=TrialState.FAIL)
            raise
        except Exception as error:  # one failed trial must not stop the study; it is recorded
            message = f"{type(error).__name__}: {first_line(error)}"
            storage.set_trial_user_attr(trial_id, ERROR_ATTR, message)
            study.tell(trial, state=TrialState.FAIL)
            print(f"effnet: warning: trial {frozen.number} ({key}) failed: {message}", file=sys.stderr)
            if os.environ.get("EFFNET_DEBUG"):
                traceback.print_exc()


def worker_id() -> str:
    """This process, as host:pid (a resume on the same host can tell a dead worker at once)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def dead_here(worker: object) -> bool:
    """True when `worker` is a process on this host that no longer runs."""
    if not isinstance(worker, str) or ":" not in worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _taken_elsewhere(study: optuna.Study, key: str, number: int, finished: Sequence[TrialState]) -> bool:
    """Whether another trial with the same parameters is finished or running (a duplicate enqueue)."""
    for other in study._storage.get_all_trials(study._study_id, deepcopy=False,
                                               states=(*finished, TrialState.RUNNING)):
        same = other.number != number and other.user_attrs.get(KEY) == key
        if same and (other.state != TrialState.RUNNING or other.number < number):
            return True
    return False


@contextlib.contextmanager
def _heartbeat(study: optuna.Study, trial_id: int) -> Iterator[None]:
    """Record a heartbeat for the running trial every `HEARTBEAT` seconds, so a resume can tell it from a dead one."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a finished trial or a passing storage error: try again later
                study._storage.set_trial_user_attr(trial_id, HEARTBEAT_ATTR, time.time())
            stop.wait(HEARTBEAT)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


