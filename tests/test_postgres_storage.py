"""Optuna studies on a real PostgreSQL server (tests/postgres.py), shared by worker processes.

Plain Optuna, no effnet code: this proves the test infrastructure and the pattern the study engine
builds on. A fixed list of trials is enqueued once (WAITING); each worker claims one at a time with
RDBStorage's compare-and-set WAITING -> RUNNING (``SELECT ... FOR UPDATE`` on the trial row, so
two workers never both win) and never lets Optuna invent a trial of its own.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import optuna
from optuna.trial import TrialState

GRID = [{"x": x, "y": y} for x in range(4) for y in ("a", "b")]  # 8 points

# A worker process: argv = url, study name, worker index, number of workers, mode.
# mode "claim": claim WAITING trials until none is left (the engine's pattern);
# mode "crash": claim one trial, then die without telling (leaves it RUNNING);
# mode N (a number): Optuna's own loop, study.optimize(objective, n_trials=N).
WORKER = r"""
import os, sys, time
import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

url, name, index, n_workers, mode = sys.argv[1:]
optuna.logging.set_verbosity(optuna.logging.WARNING)
study = optuna.load_study(study_name=name, storage=url)
# The storage object the study itself uses: load_study wraps RDBStorage in a cache that must see
# every trial this process touches, so claims go through it, not through a second RDBStorage.
storage = study._storage

# Barrier: every worker is up before any claims a trial, so the work really is shared.
study.set_user_attr(f"ready-{index}", os.getpid())
deadline = time.monotonic() + 30
while sum(key.startswith("ready-") for key in study.user_attrs) < int(n_workers):
    if time.monotonic() > deadline:
        sys.exit("the other workers never came up")
    time.sleep(0.02)


def objective(trial):
    x = trial.suggest_int("x", 0, 3)
    y = trial.suggest_categorical("y", ["a", "b"])
    trial.set_user_attr("worker", index)
    time.sleep(0.15)
    return 10 * x + (y == "b")


def claim():
    # One WAITING trial moved to RUNNING by this process, or None when none is left. Unlike
    # study.ask(), this never creates a new (sampler-driven) trial when another worker took the last.
    while True:
        waiting = study.get_trials(deepcopy=False, states=(TrialState.WAITING,))
        if not waiting:
            return None
        for frozen in waiting:
            try:
                # RDBStorage: SELECT ... FOR UPDATE on the trial row, then False unless still WAITING.
                if storage.set_trial_state_values(frozen._trial_id, TrialState.RUNNING):
                    return optuna.Trial(study, frozen._trial_id)
            except UpdateFinishedTrialError:
                pass  # finished by another worker since we read the list


if mode == "claim":
    while (trial := claim()) is not None:
        study.tell(trial, objective(trial))
elif mode == "crash":
    trial = claim()
    trial.suggest_int("x", 0, 3)
    os._exit(3)
else:
    study.optimize(objective, n_trials=int(mode))
"""


def _new_study(url: str) -> optuna.Study:
    study = optuna.create_study(study_name=f"grid-{uuid.uuid4().hex[:8]}", storage=url, direction="maximize")
    for params in GRID + GRID:  # the second round is skipped: the same params already exist
        study.enqueue_trial(params, skip_if_exists=True)
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


def test_rdb_storage_creates_and_loads_a_study(postgres_url: str) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    storage = optuna.storages.RDBStorage(postgres_url)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    study = optuna.create_study(study_name=name, storage=storage)
    study.optimize(lambda trial: trial.suggest_float("x", -1, 1) ** 2, n_trials=3)
    assert name in optuna.get_all_study_names(storage=postgres_url)
    loaded = optuna.load_study(study_name=name, storage=optuna.storages.RDBStorage(postgres_url))
    assert [t.state for t in loaded.trials] == [TrialState.COMPLETE] * 3
    assert loaded.best_value == study.best_value


def test_two_workers_claim_every_enqueued_trial_exactly_once(postgres_url: str) -> None:
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["claim", "claim"])
    assert _assert_grid_done_once(study, {"0", "1"}) == []


def test_two_workers_study_optimize_pops_enqueued_trials_atomically(postgres_url: str) -> None:
    # Optuna's own loop: ask() pops a WAITING trial with the same compare-and-set. The budgets must
    # add up to the queue; a worker asking with the queue empty would get a new sampler-driven trial.
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["4", "4"])
    assert _assert_grid_done_once(study, {"0", "1"}) == []


def test_resume_after_a_worker_died_with_a_trial_running(postgres_url: str) -> None:
    study = _new_study(postgres_url)
    _run_workers(postgres_url, study, ["crash"], expect_rc=3)
    (orphan,) = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    params = orphan.system_attrs["fixed_params"]

    # Resume, with no worker alive: fail the orphan, then queue its params again. skip_if_exists
    # would refuse: it compares against trials in every state, the FAILED orphan included.
    assert study._storage.set_trial_state_values(orphan._trial_id, TrialState.FAIL)
    study.enqueue_trial(params, skip_if_exists=True)
    assert len(study.get_trials(deepcopy=False, states=(TrialState.WAITING,))) == len(GRID) - 1
    study.enqueue_trial(params, user_attrs={"retry_of": orphan.number})

    _run_workers(postgres_url, study, ["claim", "claim"])
    (failed,) = _assert_grid_done_once(study, {"0", "1"})
    assert failed.number == orphan.number and failed.state == TrialState.FAIL
