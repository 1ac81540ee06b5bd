"""The one engine for experiments: a study is a plan of trials (the scaling study, the coefficient grid, an
architecture search's proposals), each trial an Optuna trial, run by K worker processes on one machine or many.

- Storage: by default an Optuna journal file in the output folder (`study.journal`). Its appends are ordered by a
  file lock, so local processes never take the same trial twice; SQLite is not used by default because Optuna
  itself advises against it for parallel workers (it has no `SELECT ... FOR UPDATE`: two workers can pop the
  same queued trial, and writers hit "database is locked"). Any database URL Optuna accepts (`postgresql://...`)
  can be given instead, so workers on several machines share one study.
- A plan's trials are enqueued with fixed parameters (Optuna's `enqueue_trial`); a worker claims a waiting trial
  with Optuna's atomic pop (the state change WAITING -> RUNNING succeeds for one process only). A search's workers
  then ask the sampler for proposals until the study has its number of trials. A planned trial that somehow exists
  twice (two coordinators enqueueing at once) runs once: the later copy is marked failed as a duplicate.
- Resume: finished trials are never run again. A trial left RUNNING by a process that died (no heartbeat for
  `STALE_AFTER` seconds) is marked failed and enqueued again; its training continues from its own checkpoint.
- `output/study.json` records what the study was made from; running a different configuration in the same folder
  is refused."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

from ..errors import InputError
from ..outputs import atomic_path
from .display import Display
from .plan import (
    DERIVED,
    ERROR_ATTR,
    HEARTBEAT_ATTR,
    JOURNAL_FILE,
    KEY,
    RETRY_ATTR,
    STALE_AFTER,
    STUDY_FILE,
    WORKER_ATTR,
    Plan,
    Record,
    first_difference,
    first_line,
    make_pruner,
    resolve,
    times,
    trial_key,
)
from .storage import open_storage, redact
from .worker import OVER_BUDGET, WorkerJob, dead_here, make_sampler, work, work_in_process

Written = TypeVar("Written")


class Engine:
    """One study in one output folder (and its storage): create or resume it, run it with K workers, read it."""

    def __init__(self, plan: Plan, output: str | os.PathLike[str], *, storage: str | None = None) -> None:
        self.plan, self.output, self.storage_url = plan, Path(output), storage
        if self.output.exists() and not self.output.is_dir():
            raise InputError(f"output {self.output} is a file, not a study folder")
        self._check_folder()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage = open_storage(self.output, storage)
        try:
            self.study = optuna.create_study(storage=self.storage, study_name=plan.name, load_if_exists=True,
                                             directions=list(plan.directions), sampler=make_sampler(plan, 0),
                                             pruner=make_pruner(plan.pruner))
        except Exception as error:  # a corrupt journal or an unusable database surfaces here
            raise InputError(f"cannot open the study in {self.output}: {first_line(error)}") from None
        stored = self.study.user_attrs.get("effnet.inputs")
        if stored is None:
            self.study.set_user_attr("effnet.kind", plan.kind)
            self.study.set_user_attr("effnet.inputs", plan.inputs)
        elif stored != plan.inputs:
            raise InputError(f"the study {plan.name} was made by a different configuration "
                             f"({first_difference(stored, plan.inputs)})")
        self._write_folder_record()

    # ----- the folder ---------------------------------------------------------------------------------
    def _check_folder(self) -> None:
        record = self.output / STUDY_FILE
        if not record.exists():
            if self.output.is_dir() and (self.output / JOURNAL_FILE).exists():
                raise InputError(f"{self.output} holds a study journal but no {STUDY_FILE}: not an effnet study "
                                 "folder (or a damaged one)")
            return
        try:
            saved = json.loads(record.read_text())
            kind, inputs = saved["kind"], saved["inputs"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"{record} is damaged ({first_line(error)}); not an effnet study folder") from None
        if kind != self.plan.kind:
            raise InputError(f"{self.output} holds a {kind} study, not a {self.plan.kind}")
        if inputs != self.plan.inputs:
            raise InputError(f"{self.output} holds a {kind} made by a different configuration "
                             f"({first_difference(inputs, self.plan.inputs)}); use another output folder")

    def _write_folder_record(self) -> None:
        record = self.output / STUDY_FILE
        if record.exists():
            return
        self.output.mkdir(parents=True, exist_ok=True)
        data = {"kind": self.plan.kind, "study": self.plan.name, "storage": redact(self.storage_url or JOURNAL_FILE),
                "inputs": self.plan.inputs}
        with atomic_path(record) as temp:
            temp.write_text(json.dumps(data, indent=2))

    # ----- derived data, shared by every worker --------------------------------------------------------
    def derived(self, name: str, compute: Callable[[], Any]) -> Any:
        """Data every trial shares (sized specs, measured latencies): computed once by the first process to get
        here, stored in the study, and read back by every later one (also on other machines)."""
        attr = f"{DERIVED}{name}"
        if attr in self.study.user_attrs:
            return self.study.user_attrs[attr]
        value = compute()
        fresh = optuna.load_study(study_name=self.plan.name, storage=self.storage)
        if attr in fresh.user_attrs:  # another process was quicker: its value stands
            return fresh.user_attrs[attr]
        self.study.set_user_attr(attr, value)
        return value

    def all_derived(self) -> dict[str, Any]:
        attrs = optuna.load_study(study_name=self.plan.name, storage=self.storage).user_attrs
        return {key[len(DERIVED):]: value for key, value in attrs.items() if key.startswith(DERIVED)}

    # ----- the queue ----------------------------------------------------------------------------------
    def trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    def fail_stale(self, after: float = STALE_AFTER) -> list[int]:
        """Mark RUNNING trials whose process died (no heartbeat for `after` seconds) failed; their numbers. A
        sampler-proposed trial is enqueued again with the parameters it had, so the same candidate is retried."""
        now, failed = time.time(), []
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            beat = trial.user_attrs.get(HEARTBEAT_ATTR)
            started = trial.datetime_start.timestamp() if trial.datetime_start else now
            silent = now - (beat if isinstance(beat, (int, float)) else started) > after
            if silent or dead_here(trial.user_attrs.get(WORKER_ATTR)):
                with contextlib.suppress(UpdateFinishedTrialError):
                    self.study._storage.set_trial_user_attr(trial._trial_id, ERROR_ATTR,
                                                            "its process stopped without finishing it")
                    self.study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
                    failed.append(trial.number)
                    if KEY not in trial.user_attrs and trial.params:  # a proposal: try the same candidate again
                        self.study.enqueue_trial(dict(trial.params), user_attrs={RETRY_ATTR: trial.number})
        return failed

    def enqueue_missing(self) -> int:
        """Enqueue every planned trial that is not finished, waiting or running; how many were enqueued."""
        present = {trial.user_attrs.get(KEY) for trial in self.trials()
                   if trial.state in (*self.plan.finished_states, TrialState.WAITING, TrialState.RUNNING)}
        added = 0
        for params in self.plan.trials:
            key = trial_key(params)
            if key not in present:
                self.study.enqueue_trial(params, user_attrs={KEY: key})
                present.add(key)
                added += 1
        return added

    def counts(self) -> dict[str, int]:
        """Planned trials done (finished, or pruned where the plan prunes), running, waiting, failed (without a later
        success)."""
        if self.plan.asks:
            return self._search_counts()
        finished = self.plan.finished_states
        latest: dict[str, TrialState] = {}
        for trial in self.trials():
            key = trial.user_attrs.get(KEY)
            if key is None:
                continue
            if trial.state in finished or latest.get(key) not in finished:
                latest[key] = trial.state
        planned = [trial_key(params) for params in self.plan.trials]
        states = [latest.get(key) for key in planned]
        done = sum(state in finished for state in states)
        running = sum(state == TrialState.RUNNING for state in states)
        failed = sum(state == TrialState.FAIL for state in states)
        return {"planned": len(planned), "done": done, "running": running, "failed": failed,
                "waiting": len(planned) - done - running - failed}

    def _search_counts(self) -> dict[str, int]:
        trials = self.trials()
        done = sum(t.state in self.plan.finished_states for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        failed = sum(t.state == TrialState.FAIL and t.user_attrs.get(ERROR_ATTR) != OVER_BUDGET for t in trials)
        left = max(0, self.plan.total - done - running - waiting)
        return {"planned": self.plan.total, "done": min(done, self.plan.total), "running": running,
                "failed": failed, "waiting": waiting + left}

    # ----- running ------------------------------------------------------------------------------------
    def run(self, objective: str, *, workers: int = 1, threads: int = 1, progress: bool = True) -> dict[str, int]:
        """Run every unfinished trial with `workers` processes (`objective` is "module:function"); returns the
        final counts. Failed trials are recorded with their error and the rest go on."""
        if workers < 1 or threads < 1:
            raise InputError(f"workers and threads must be >= 1, got {workers} and {threads}")
        resolve(objective)
        self.fail_stale()
        self.enqueue_missing()
        jobs = [WorkerJob(self.plan, str(self.output), self.storage_url, objective, threads, index)
                for index in range(workers)]
        with Display(self, progress) as display:
            if workers == 1:
                thread = threading.Thread(target=display.follow, daemon=True)
                thread.start()
                work(jobs[0])
            else:
                context = multiprocessing.get_context("spawn")
                processes = [context.Process(target=work_in_process, args=(job,), daemon=False) for job in jobs]
                for process in processes:
                    process.start()
                try:
                    while any(process.is_alive() for process in processes):
                        display.update()
                        time.sleep(1.0)
                finally:
                    for process in processes:
                        process.join()
        return self.counts()

    def run_and_write(self, objective: str, write: Callable[[dict[str, int]], Written], *, workers: int = 1,
                      threads: int = 1, progress: bool = True) -> Written:
        """`run`, then `write(counts)` the runner's outputs from the finished trials. Stopped early (Ctrl-C), the
        outputs are still written from the trials finished so far, and then the stop goes on."""
        try:
            counts = self.run(objective, workers=workers, threads=threads, progress=progress)
        except KeyboardInterrupt:
            write(self.counts())
            raise
        return write(counts)

    def all_records(self) -> list[Record]:
        """Every trial in number order (a search's proposals, cached candidates, failures), as stored."""
        out = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            metrics = {k: v for k, v in trial.user_attrs.items() if not k.startswith("effnet.")}
            metrics.update(times(trial))
            if trial.state == TrialState.FAIL:
                metrics["error"] = trial.user_attrs.get(ERROR_ATTR)
            params = dict(trial.params or trial.system_attrs.get("fixed_params") or {})
            out.append(Record(trial.number, trial.state.name.lower(), params, metrics))
        return out

    def records(self) -> list[Record]:
        """The planned trials' latest finished results (COMPLETE, or PRUNED where the plan prunes), in plan order;
        then failures."""
        best: dict[str, Record] = {}
        failures: list[Record] = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            key = trial.user_attrs.get(KEY)
            params = dict(trial.system_attrs.get("fixed_params") or trial.params)
            metrics = {k: v for k, v in trial.user_attrs.items() if not k.startswith("effnet.")}
            metrics.update(times(trial))
            record = Record(trial.number, trial.state.name.lower(), params, metrics)
            if trial.state == TrialState.COMPLETE:
                metrics.setdefault("value", trial.value)
                best[key] = record
            elif trial.state in self.plan.finished_states and key not in best:  # pruned, where the plan prunes
                best[key] = record
            elif trial.state == TrialState.FAIL:
                record.metrics["error"] = trial.user_attrs.get(ERROR_ATTR)
                failures.append(record)
        ordered = [best[trial_key(params)] for params in self.plan.trials if trial_key(params) in best]
        unresolved = [r for r in failures if r.key not in best]
        return ordered + unresolved


