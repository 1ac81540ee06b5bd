"""Optuna studies on a real PostgreSQL server (tests/postgres.py), shared by worker processes.

Plain Optuna, no effnet code: this proves the test infrastructure and the pattern the study engine
builds on, with Optuna's public API only. A fixed list of trials is enqueued once (WAITING); each
worker takes one at a time with `study.optimize(n_trials=1)`, whose queue pop is RDBStorage's
compare-and-set WAITING -> RUNNING (``SELECT ... FOR UPDATE`` on the trial row, so two workers never
both win), and stops when the queue is empty. A trial whose process died is failed by the storage's
own heartbeat and tried again by its stale-trial callback.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import optuna
from optuna.trial import TrialState
from sqlalchemy.pool import NullPool

GRID = [{"x": x, "y": y} for x in range(4) for y in ("a", "b")]  # 8 points

# A worker process: argv = url, study name, worker index, number of workers, mode.
# mode "queue": take queued trials until none is left (the engine's pattern);
# mode "crash": take one trial, then die in it without telling (leaves it RUNNING);
# mode N (a number): Optuna's own loop, study.optimize(objective, n_trials=N).
WORKER = r"""
import os, sys, time
import optuna
from optuna.trial import TrialState

url, name, index, n_workers, mode = sys.argv[1:]
import warnings
warnings.simplefilter("ignore")
optuna.logging.set_verbosity(optuna.logging.ERROR)
heartbeat = dict(heartbeat_interval=1, grace_period=3)
retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", optuna.storages.RetryFailedTrialCallback)()
try:
    storage = optuna.storages.RDBStorage(url, **heartbeat, heartbeat_stale_trial_callback=retry)
except TypeError:  # Optuna before 4.9 names the callback failed_trial_callback
    storage = optuna.storages.RDBStorage(url, **heartbeat, failed_trial_callback=retry)
study = optuna.load_study(study_name=name, storage=storage)

# Barrier: every worker is up before any takes a trial, so the work really is shared.
study.set_user_attr(f"ready-{index}", os.getpid())
deadline = time.monotonic() + 30
while sum(key.startswith("ready-") for key in study.user_attrs) < int(n_workers):
    if time.monotonic() > deadline:
        sys.exit("the other workers never came up")
    time.sleep(0.02)


class NoTrial(Exception):
    pass


def objective(trial):
    if not trial.user_attrs.get("grid"):  # the queue emptied while this worker asked: not a grid point
        trial.set_user_attr("idle", True)
        raise NoTrial()
    x = trial.suggest_int("x", 0, 3)
    y = trial.suggest_categorical("y", ["a", "b"])
    trial.set_user_attr("worker", index)
    if mode == "crash":
        os._exit(3)
    time.sleep(0.15)
    return 10 * x + (y == "b")


if mode in ("queue", "crash"):
    while study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        study.optimize(objective, n_trials=1, catch=(NoTrial,))
else:
    study.optimize(objective, n_trials=int(mode))
"""


def _storage(url: str) -> optuna.storages.RDBStorage:
    """Unpooled, as effnet opens a database: RDBStorage has no close, and a pooled connection would outlive it."""
    return optuna.storages.RDBStorage(url, engine_kwargs={"poolclass": NullPool})


def _new_study(url: str) -> optuna.Study:
    study = optuna.create_study(study_name=f"grid-{uuid.uuid4().hex[:8]}", storage=_storage(url),
                                direction="maximize")
    for params in GRID + GRID:  # the second round is skipped: the same params already exist
        study.enqueue_trial(params, user_attrs={"grid": True}, skip_if_exists=True)
    assert len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))) == len(GRID)
    return study


def _run_workers(url: str, study: optuna.Study, modes: list[str], expect_rc: int = 0) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, url, study.study_name, str(i), str(len(modes)), mode],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, mode in enumerate(modes)
    ]
    try:
        outputs = [proc.communicate(timeout=60) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == expect_rc, err[-3000:]


def _assert_grid_done_once(study: optuna.Study, workers: set[str]) -> list:
    """Every grid point COMPLETE exactly once, with the objective's value; returns the other trials."""
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    done = sorted((t.params["x"], t.params["y"]) for t in complete)
    assert done == sorted((p["x"], p["y"]) for p in GRID), f"duplicates or gaps: {done}"
    for t in complete:
        assert t.value == 10 * t.params["x"] + (t.params["y"] == "b")
    assert {t.user_attrs["worker"] for t in complete} == workers, "both processes should have done work"
    return [t for t in trials if t.state != TrialState.COMPLETE]


def test_rdb_storage_creates_and_loads_a_study_and_its_best_value(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    storage = _storage(postgres_url)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    assert name in optuna.get_all_study_names(storage=storage)
    loaded = optuna.load_study(study_name=name, storage=_storage(postgres_url))
    assert [t.state for t in loaded.trials] == [TrialState.COMPLETE] * 3
    assert loaded.best_value == study.best_value


def test_two_workers_take_every_enqueued_trial_exactly_once(postgres_url: str) -> None:
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["queue", "queue"])
    others = _assert_grid_done_once(study, {"0", "1"})
    assert all(t.user_attrs.get("idle") for t in others)  # at most a no-op per worker, never a second run


def test_two_workers_study_optimize_pops_enqueued_trials_atomically(postgres_url: str) -> None:
    # Optuna's own loop: ask() pops a WAITING trial with the same compare-and-set. The budgets must
    # add up to the queue; a worker asking with the queue empty would get a new sampler-driven trial.
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["4", "4"])
    assert _assert_grid_done_once(study, {"0", "1"}) == []


def test_a_trial_whose_worker_died_is_failed_by_the_heartbeat_and_tried_again(postgres_url: str) -> None:
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["crash"], expect_rc=3)
    (orphan,) = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    time.sleep(4)  # past the grace period: the next optimize() fails it and its callback enqueues it again
    _run_workers(postgres_url, study, ["queue", "queue"])
    others = _assert_grid_done_once(study, {"0", "1"})
    failed = [t for t in others if not t.user_attrs.get("idle")]
    assert [t.number for t in failed] == [orphan.number] and failed[0].state == TrialState.FAIL
