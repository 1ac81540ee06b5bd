"""The one engine for experiments: a study is a plan of trials (the scaling study, the coefficient grid, an
architecture search's proposals), each trial an Optuna trial, run by K worker processes on one machine or many.

- Storage: by default an Optuna journal file in the output folder (`study.journal`). Its appends are ordered by a
  file lock, so local processes never take the same trial twice; SQLite is not used by default because Optuna
  itself advises against it for parallel workers (it has no `SELECT ... FOR UPDATE`: two workers can pop the
  same queued trial, and writers hit "database is locked"). Any database URL Optuna accepts (`postgresql://...`)
  can be given instead, so workers on several machines share one study.
- A plan's trials are enqueued with fixed parameters (Optuna's `enqueue_trial`, the parameters kept as the
  trial's key); a worker takes one with `Study.optimize`, whose queue pop succeeds for one process only. A
  search's workers then ask the sampler for proposals until the study has its number of trials. A planned trial
  that somehow exists twice (two coordinators enqueueing at once) runs once.
- Resume: finished trials are never run again. A trial left RUNNING by a process that died is marked failed and
  enqueued again (`effnet.engine.heartbeat`); an interrupted one (Ctrl-C) too. Its training continues from its
  own checkpoint.
- Nothing is written before the study starts: the folder, its journal and `study.json` are made when the first
  derived data is stored or the run begins, after every check has passed.
- `output/study.json` records what the study was made from; running a different configuration in the same folder
  is refused -- unless no trial of the study there has finished (it is replaced, with a warning) -- and
  `overwrite` starts the folder's study afresh. A record that holds specs in an older format (with the training
  settings specs held before issue 22) is the same configuration when it reads as the new one: the study goes on
  under its recorded inputs and name."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import shutil
import signal
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from ..architecture.spec import current_format
from ..errors import ConfigurationMismatch, InputError, StudyFailing, option
from ..outputs import atomic_path
from .display import Display
from .heartbeat import fail_stale
from .plan import (
    DERIVED,
    INTERRUPTED,
    JOURNAL_FILE,
    KEY,
    MAX_THREADS,
    MAX_WORKERS,
    NOT_RESULTS,
    RETRY_ATTR,
    STUDY_FILE,
    TRIALS_FOLDER,
    Plan,
    Record,
    check_count,
    error_of,
    failing_streak,
    first_difference,
    first_line,
    make_pruner,
    resolve,
    times,
    trial_key,
)
from .storage import open_storage, redact
from .worker import WorkerJob, make_sampler, planned_params, work, work_in_process

Written = TypeVar("Written")


class Engine:
    """One study in one output folder (and its storage): create or resume it, run it with K workers, read it.

    Opening an engine writes nothing; `outputs` names the files the study's runner writes into the folder (removed,
    with the study's own, by `overwrite` or when an unfinished study of another configuration is replaced)."""

    def __init__(self, plan: Plan, output: str | os.PathLike[str], *, storage: str | None = None,
                 overwrite: bool = False, outputs: Sequence[str] = ()) -> None:
        self.plan, self.output, self.storage_url = plan, Path(output), storage
        self.outputs = tuple(outputs)
        if self.output.exists() and not self.output.is_dir():
            raise InputError(f"output {self.output} is a file, not a study folder")
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        if overwrite:
            self._clear("overwrite: the study in {folder} was removed; starting afresh")
        self._check_folder()
        self._store: BaseStorage | None = open_storage(self.output, storage, create=False)
        self._study: optuna.Study | None = None
        if self._store is not None and storage is not None and overwrite:
            with contextlib.suppress(KeyError):
                optuna.delete_study(study_name=plan.name, storage=self._store)
        self._existing()

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
            kind, inputs, name = saved["kind"], saved["inputs"], saved.get("study")
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise InputError(f"{record} is damaged ({first_line(error)}); not an effnet study folder") from None
        if kind != self.plan.kind:
            raise InputError(f"{self.output} holds a {kind} study, not a {self.plan.kind}")
        if inputs == self.plan.inputs:
            return
        if current_format(inputs) == self.plan.inputs:  # recorded before specs lost their training settings
            self.plan = replace(self.plan, inputs=inputs)  # its own name and records, as the study has them
            return
        difference = first_difference(inputs, self.plan.inputs)
        if self._finished_in(name) > 0:
            raise ConfigurationMismatch(f"{self.output} holds a {kind} made by a different configuration "
                                        f"({difference}); use another output folder, or {option('overwrite')} to "
                                        "replace it", difference)
        self._clear(f"{{folder}} held a {kind} of another configuration ({difference}) with no finished trial: "
                    "replaced by this one")

    def _finished_in(self, name: str | None) -> int:
        """Finished trials of the study `name` in this folder's storage (0 when it cannot be read)."""
        try:
            storage = open_storage(self.output, self.storage_url, create=False)
            if storage is None or name is None:
                return 0
            study = optuna.load_study(study_name=name, storage=storage)
        except (InputError, KeyError):
            return 0
        return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.get_trials(deepcopy=False))

    def _clear(self, note: str) -> None:
        """Remove what a study wrote into the folder (never anything else), and say so."""
        if not (self.output / STUDY_FILE).exists() and not (self.output / JOURNAL_FILE).exists():
            return
        for name in (STUDY_FILE, *self.outputs):
            path = self.output / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()
        for path in self.output.glob(f"{JOURNAL_FILE}*"):  # the journal and its lock files
            path.unlink()
        if (self.output / TRIALS_FOLDER).is_dir():
            shutil.rmtree(self.output / TRIALS_FOLDER)
        warnings.warn(note.format(folder=self.output), stacklevel=3)

    def _existing(self) -> optuna.Study | None:
        """The study, if it exists by now (another coordinator may have created it in a shared database)."""
        if self._study is None:
            if self._store is None:
                self._store = open_storage(self.output, self.storage_url, create=False)
            if self._store is not None:
                with contextlib.suppress(KeyError):
                    self._study = self._load()
        return self._study

    def _load(self) -> optuna.Study:
        assert self._store is not None
        study = optuna.load_study(study_name=self.plan.name, storage=self._store, sampler=make_sampler(self.plan, 0),
                                  pruner=make_pruner(self.plan.pruner, **self.plan.pruner_args))
        stored = study.user_attrs.get("effnet.inputs")
        if stored is not None and stored != self.plan.inputs:
            difference = first_difference(stored, self.plan.inputs)
            raise ConfigurationMismatch(f"the study {self.plan.name} was made by a different configuration "
                                        f"({difference})", difference)
        return study

    @property
    def storage(self) -> BaseStorage:
        """The study's storage (the folder and its journal are made on first use)."""
        if self._store is None:
            self._store = open_storage(self.output, self.storage_url)
        assert self._store is not None
        return self._store

    @property
    def exists(self) -> bool:
        """Whether the study has been created (in this folder's journal or the database)."""
        return self._existing() is not None

    @property
    def study(self) -> optuna.Study:
        """The Optuna study, created on first use together with the folder and its `study.json`.

        `study.json` is written before the journal: a second command on the same folder that finds a journal can
        rely on finding the record beside it (a journal without one is a damaged folder)."""
        if self._study is None:
            wrote = self._write_folder_record()
            try:
                self._study = optuna.create_study(storage=self.storage, study_name=self.plan.name,
                                                  load_if_exists=True, directions=list(self.plan.directions),
                                                  sampler=make_sampler(self.plan, 0),
                                                  pruner=make_pruner(self.plan.pruner, **self.plan.pruner_args))
            except Exception as error:  # a corrupt journal or an unusable database surfaces here
                if wrote:  # nothing of this call is left behind
                    (self.output / STUDY_FILE).unlink(missing_ok=True)
                if isinstance(error, InputError):
                    raise
                raise InputError(f"cannot open the study in {self.output}: {first_line(error)}") from None
            if self._study.user_attrs.get("effnet.inputs") is None:
                self._study.set_user_attr("effnet.kind", self.plan.kind)
                self._study.set_user_attr("effnet.inputs", self.plan.inputs)
        return self._study

    def _write_folder_record(self) -> bool:
        """Write the folder's `study.json` unless it exists; whether this call wrote it."""
        record = self.output / STUDY_FILE
        if record.exists():
            return False
        self.output.mkdir(parents=True, exist_ok=True)
        data = {"kind": self.plan.kind, "study": self.plan.name, "storage": redact(self.storage_url or JOURNAL_FILE),
                "inputs": self.plan.inputs}
        with atomic_path(record) as temp:
            temp.write_text(json.dumps(data, indent=2))
        return True

    # ----- derived data, shared by every worker --------------------------------------------------------
    def derived(self, name: str, compute: Callable[[], Any]) -> Any:
        """Data every trial shares (sized specs, measured latencies): computed once by the first process to get
        here, stored in the study, and read back by every later one (also on other machines). It is computed
        before the study is created, so an error in it leaves nothing behind."""
        attr = f"{DERIVED}{name}"
        existing = self._existing()
        if existing is not None and attr in existing.user_attrs:
            return existing.user_attrs[attr]
        value = compute()
        study = self.study
        fresh = optuna.load_study(study_name=self.plan.name, storage=self.storage)
        if attr in fresh.user_attrs:  # another process was quicker: its value stands
            return fresh.user_attrs[attr]
        study.set_user_attr(attr, value)
        return value

    def all_derived(self) -> dict[str, Any]:
        if self._existing() is None:
            return {}
        attrs = optuna.load_study(study_name=self.plan.name, storage=self.storage).user_attrs
        return {key[len(DERIVED):]: value for key, value in attrs.items() if key.startswith(DERIVED)}

    # ----- the queue ----------------------------------------------------------------------------------
    def trials(self) -> list[FrozenTrial]:
        study = self._existing()
        return study.get_trials(deepcopy=False) if study is not None else []

    def fail_stale(self) -> list[int]:
        """Mark RUNNING trials whose process died failed and enqueue them again; their numbers."""
        return fail_stale(self.study, self.storage)

    def enqueue_missing(self) -> int:
        """Enqueue every planned trial that is not finished, waiting or running, and every interrupted proposal of
        a search that has not been tried again; how many were enqueued."""
        trials = self.trials()
        present = {trial.user_attrs.get(KEY) for trial in trials
                   if trial.state in (*self.plan.finished_states, TrialState.WAITING, TrialState.RUNNING)}
        added = 0
        for params in self.plan.trials:
            key = trial_key(params)
            if key not in present:
                self.study.enqueue_trial(params, user_attrs={KEY: key})
                present.add(key)
                added += 1
        retried = {trial.user_attrs.get(RETRY_ATTR) for trial in trials}
        for trial in trials:
            if error_of(trial) == INTERRUPTED and KEY not in trial.user_attrs and trial.params \
                    and trial.number not in retried:
                self.study.enqueue_trial(dict(trial.params), user_attrs={RETRY_ATTR: trial.number})
                added += 1
        return added

    def counts(self) -> dict[str, int]:
        """Planned trials done (finished, or pruned where the plan prunes), running, waiting, failed and interrupted
        (each without a later success)."""
        if self.plan.asks:
            return self._search_counts()
        finished = self.plan.finished_states
        latest: dict[str, FrozenTrial] = {}
        for trial in self.trials():
            key = trial.user_attrs.get(KEY)
            if key is None or error_of(trial) in NOT_RESULTS:
                continue
            if trial.state in finished or key not in latest or latest[key].state not in finished:
                latest[key] = trial
        states = [latest.get(trial_key(params)) for params in self.plan.trials]
        done = sum(t is not None and t.state in finished for t in states)
        running = sum(t is not None and t.state == TrialState.RUNNING for t in states)
        interrupted = sum(t is not None and error_of(t) == INTERRUPTED for t in states)
        failed = sum(t is not None and t.state == TrialState.FAIL for t in states) - interrupted
        return {"planned": len(states), "done": done, "running": running, "failed": failed,
                "interrupted": interrupted, "waiting": len(states) - done - running - failed - interrupted}

    def _search_counts(self) -> dict[str, int]:
        trials = [t for t in self.trials() if error_of(t) not in NOT_RESULTS]
        done = sum(t.state in self.plan.finished_states for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        retried = {t.user_attrs.get(RETRY_ATTR) for t in trials}
        interrupted = sum(error_of(t) == INTERRUPTED and t.number not in retried for t in trials)
        failed = sum(t.state == TrialState.FAIL for t in trials) - sum(error_of(t) == INTERRUPTED for t in trials)
        left = max(0, self.plan.total - done - running - waiting - failed)
        return {"planned": self.plan.total, "done": min(done, self.plan.total), "running": running,
                "failed": failed, "interrupted": interrupted, "waiting": waiting + left}

    def failing(self, since: float | None = None) -> str | None:
        """The error that stopped the study, when its last `plan.max_failures` trials (since `since`) all failed."""
        return failing_streak(self.trials(), self.plan, since)

    # ----- running ------------------------------------------------------------------------------------
    def run(self, objective: str, *, workers: int = 1, threads: int = 1, progress: bool = True) -> dict[str, int]:
        """Run every unfinished trial with `workers` processes (`objective` is "module:function"); returns the
        final counts. A failed trial is recorded with its error and the rest go on -- until `plan.max_failures`
        fail in a row: then `StudyFailing` says why."""
        check_count("workers", workers, MAX_WORKERS)
        check_count("threads", threads, MAX_THREADS)
        resolve(objective)
        started = time.time()
        self.fail_stale()
        self.enqueue_missing()
        jobs = [WorkerJob(self.plan, str(self.output), self.storage_url, objective, threads, index, started)
                for index in range(workers)]
        with Display(self, progress) as display:
            while True:
                self._run_workers(jobs[:self._workers_needed(len(jobs))], display)
                if self.failing(started) is not None or not self._wait_for_others(display):
                    break
        error = self.failing(started)
        if error is not None:
            raise StudyFailing(f"the study stopped: {error}")
        return self.counts()

    def _workers_needed(self, workers: int) -> int:
        """At most one worker per queued trial for a fixed plan (an extra one would only find the queue empty);
        a search's workers also ask the sampler, so all of them run."""
        if self.plan.asks:
            return workers
        waiting = sum(t.state == TrialState.WAITING for t in self.trials())
        return max(1, min(workers, waiting))

    def _run_workers(self, jobs: list[WorkerJob], display: Display) -> None:
        """Run the jobs: in this process for one, as spawned processes for more (a killed one is reported)."""
        if len(jobs) == 1:
            thread = threading.Thread(target=display.follow, daemon=True)
            thread.start()
            work(jobs[0])
            return
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
        for index, process in enumerate(processes):  # a worker killed from outside is said, not hidden
            if process.exitcode not in (0, 130, None) and process.exitcode != -signal.SIGINT:
                how = (f"signal {signal.Signals(-process.exitcode).name}" if process.exitcode < 0
                       else f"exit code {process.exitcode}")
                warnings.warn(f"worker {index} (pid {process.pid}) of the study in {self.output} ended with {how}; "
                              "its trial runs again", stacklevel=3)

    def _wait_for_others(self, display: Display, poll: float = 5.0) -> bool:
        """When this machine's workers are done but trials still run elsewhere (other machines sharing the
        study), wait for them rather than write stale outputs; True when trials were queued again meanwhile (a
        dead machine's, failed as stale) and this machine should run them."""
        while True:
            trials = self.trials()
            if any(t.state == TrialState.WAITING for t in trials):
                return True
            if not any(t.state == TrialState.RUNNING for t in trials):
                return False
            display.update()
            time.sleep(poll)
            self.fail_stale()

    def run_and_write(self, objective: str, write: Callable[[dict[str, int]], Written], *, workers: int = 1,
                      threads: int = 1, progress: bool = True) -> Written:
        """`run`, then `write(counts)` the runner's outputs from the finished trials. Stopped early (Ctrl-C, or a
        run of failures), the outputs are still written from the trials finished so far, and then the stop goes
        on."""
        try:
            counts = self.run(objective, workers=workers, threads=threads, progress=progress)
        except (KeyboardInterrupt, StudyFailing):
            write(self.counts())
            raise
        return write(counts)

    def all_records(self) -> list[Record]:
        """Every trial in number order (a search's proposals, cached candidates, failures), as stored; the
        engine's own no-ops are left out."""
        out = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            if error_of(trial) in NOT_RESULTS:
                continue
            out.append(_record(trial))
        return out

    def records(self) -> list[Record]:
        """The planned trials' latest finished results (COMPLETE, or PRUNED where the plan prunes), in plan order;
        then failures (interrupted ones included, with their error)."""
        best: dict[str, Record] = {}
        failures: list[Record] = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            key = trial.user_attrs.get(KEY)
            if error_of(trial) in NOT_RESULTS:
                continue
            record = _record(trial)
            if trial.state == TrialState.COMPLETE or (trial.state in self.plan.finished_states and key not in best):
                best[key] = record
            elif trial.state == TrialState.FAIL:
                failures.append(record)
        ordered = [best[trial_key(params)] for params in self.plan.trials if trial_key(params) in best]
        unresolved = [r for r in failures if r.key not in best]
        return ordered + unresolved


def _record(trial: FrozenTrial) -> Record:
    """A trial as stored: its parameters (the plan's, or the sampler's), its results and its times."""
    metrics = {k: v for k, v in trial.user_attrs.items() if not k.startswith("effnet.")}
    metrics.update(times(trial))
    if trial.state == TrialState.COMPLETE:
        metrics.setdefault("value", trial.values[0] if len(trial.values) == 1 else list(trial.values))
    if trial.state == TrialState.FAIL:
        metrics["error"] = error_of(trial)
    params = planned_params(trial)
    return Record(trial.number, trial.state.name.lower(), params if params is not None else dict(trial.params),
                  metrics)


__all__ = ["Engine", "StudyFailing"]
