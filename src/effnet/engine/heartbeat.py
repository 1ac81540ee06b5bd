"""Telling a running trial from one whose process died, and trying a dead trial again.

A database storage (Optuna's `RDBStorage`) has its own heartbeat: `open_storage` turns it on, `Study.optimize`
beats for the running trial and fails stale trials, and `retry_stale` below is its stale-trial callback. The
journal file has none, so this module keeps a hand-written one for it: a running trial's worker writes the time
into a user attribute every `HEARTBEAT` seconds, and `fail_stale` marks a RUNNING trial failed once it has been
silent for `STALE_AFTER` seconds -- or at once when its worker was a process on this host that no longer runs."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator

import optuna
from optuna.storages import BaseStorage, fail_stale_trials
from optuna.trial import FrozenTrial, TrialState

from .plan import HEARTBEAT_ATTR, KEY, RETRY_ATTR, WORKER_ATTR

HEARTBEAT = 10  # seconds between a running trial's heartbeats
STALE_AFTER = 120  # a RUNNING trial without a heartbeat for this long belongs to a dead process


def has_own_heartbeat(storage: BaseStorage) -> bool:
    """Whether the storage beats and fails stale trials itself (a database with its heartbeat turned on)."""
    interval = getattr(storage, "get_heartbeat_interval", None)
    return callable(interval) and interval() is not None


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


def retry_stale(study: optuna.Study, trial: FrozenTrial) -> None:
    """Enqueue a trial that died with its process again: a planned trial with its key, a sampler's proposal with
    the parameters it had (so the same candidate is tried, and its training resumes from its checkpoint)."""
    key = trial.user_attrs.get(KEY)
    if isinstance(key, str):
        study.enqueue_trial(json.loads(key), user_attrs={KEY: key})
    elif trial.params:
        study.enqueue_trial(dict(trial.params), user_attrs={RETRY_ATTR: trial.number})


def fail_stale(study: optuna.Study, storage: BaseStorage, after: float = STALE_AFTER) -> list[int]:
    """Mark the RUNNING trials of dead processes failed and enqueue them again; their numbers. A storage with its
    own heartbeat is asked to do it (Optuna's `fail_stale_trials`); for the others, the hand-written heartbeat and
    the worker's process id tell."""
    failed: list[int] = []
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    own = has_own_heartbeat(storage)
    if own:
        before = {t.number for t in running}
        with contextlib.suppress(Exception):
            fail_stale_trials(study)
        still = {t.number for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))}
        failed = sorted(before - still)
        running = [t for t in running if t.number in still]
    now = time.time()
    for trial in running:
        beat = trial.user_attrs.get(HEARTBEAT_ATTR)
        started = trial.datetime_start.timestamp() if trial.datetime_start else now
        silent = not own and now - (beat if isinstance(beat, (int, float)) else started) > after
        if silent or dead_here(trial.user_attrs.get(WORKER_ATTR)):
            try:
                study.tell(trial.number, state=TrialState.FAIL)
            except (ValueError, RuntimeError):  # Optuna's UpdateFinishedTrialError is a RuntimeError
                continue  # finished or failed meanwhile by its own process or another coordinator
            failed.append(trial.number)
            retry_stale(study, trial)
    return failed


@contextlib.contextmanager
def beating(storage: BaseStorage, trial: optuna.Trial) -> Iterator[None]:
    """While the block runs, record the trial's heartbeat every `HEARTBEAT` seconds -- unless the storage beats for
    it already (inside `Study.optimize`)."""
    if has_own_heartbeat(storage):
        yield
        return
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a finished trial or a passing storage error: try again later
                trial.set_user_attr(HEARTBEAT_ATTR, time.time())
            stop.wait(HEARTBEAT)

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


__all__ = ["HEARTBEAT", "STALE_AFTER", "beating", "dead_here", "fail_stale", "has_own_heartbeat", "retry_stale",
           "worker_id"]
