"""The one engine for experiments: a study is a fixed plan of trials (the scaling study, the coefficient grid, an
architecture search's proposals), each trial an Optuna trial, run by K worker processes on one machine or many.

- Storage: by default an Optuna journal file in the output folder (`study.journal`). Its appends are ordered by a
  file lock, so local processes never take the same trial twice; SQLite is not used by default because Optuna
  itself advises against it for parallel workers (it has no `SELECT ... FOR UPDATE`: two workers can pop the
  same queued trial, and writers hit "database is locked"). Any database URL Optuna accepts (`postgresql://...`)
  can be given instead, so workers on several machines share one study.
- Trials are enqueued with fixed parameters (Optuna's `enqueue_trial`); a worker claims a waiting trial with
  Optuna's atomic pop (the state change WAITING -> RUNNING succeeds for one process only) and never asks the
  sampler for new ones. A trial that somehow exists twice (two coordinators enqueueing at once) runs once: the
  later copy is marked failed as a duplicate.
- Resume: finished trials are never run again. A trial left RUNNING by a process that died (no heartbeat for
  `STALE_AFTER` seconds) is marked failed and enqueued again; its training continues from its own checkpoint.
- `output/study.json` records what the study was made from; running a different configuration in the same folder
  is refused."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import math
import multiprocessing
import os
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import torch
from optuna.exceptions import TrialPruned, UpdateFinishedTrialError
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .errors import InputError
from .outputs import atomic_path

STUDY_FILE, JOURNAL_FILE = "study.json", "study.journal"
HEARTBEAT = 10.0  # seconds between a running trial's heartbeats
STALE_AFTER = 120.0  # a RUNNING trial without a heartbeat for this long belongs to a dead process
KEY, HEARTBEAT_ATTR, ERROR_ATTR, WORKER_ATTR = "effnet.key", "effnet.heartbeat", "effnet.error", "effnet.worker"
RETRY_ATTR = "effnet.retry_of"
DERIVED = "effnet.derived."

Params = dict[str, Any]
Objective = Callable[[Params, "TrialContext"], dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """A study: its `kind`, the `inputs` it was made from (a study made from other inputs is refused), and the
    parameter sets of its trials, in order (each a flat dict of JSON scalars).

    A search adds `asks` trials proposed by a sampler (`sampler` is "module:function", called with a seed, giving
    an Optuna sampler) after the enqueued ones, and may have several objectives (`directions`)."""

    kind: str
    inputs: dict[str, Any]
    trials: tuple[Params, ...]
    asks: int = 0
    sampler: str | None = None
    sampler_args: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    directions: tuple[str, ...] = ("maximize",)

    def __post_init__(self) -> None:
        keys = [trial_key(params) for params in self.trials]
        if len(set(keys)) != len(keys):
            raise InputError(f"the {self.kind} plan has a repeated trial")
        if not self.trials and self.asks < 1:
            raise InputError(f"the {self.kind} plan has no trials")
        if self.asks and self.sampler is None:
            raise InputError("a plan with sampler-proposed trials needs a sampler")

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


def trial_key(params: Mapping[str, Any]) -> str:
    """The identity of a trial: its parameters as canonical JSON."""
    return json.dumps(dict(params), sort_keys=True, separators=(",", ":"))


def trial_slug(params: Mapping[str, Any]) -> str:
    """A short, file-name-safe name for a trial's folder."""
    readable = "-".join(f"{value}" for value in params.values() if isinstance(value, (str, int)))[:60]
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


def open_storage(output: Path, url: str | None) -> BaseStorage:
    """The journal file in `output`, or the database at `url`; one-line errors for what cannot be opened."""
    if url is None:
        output.mkdir(parents=True, exist_ok=True)
        path = output / JOURNAL_FILE
        try:
            return JournalStorage(JournalFileBackend(str(path)))
        except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"cannot read the study journal {path}: {_first_line(error)}") from None
    if url.startswith(("journal:", "file:")):
        return JournalStorage(JournalFileBackend(url.split(":", 1)[1]))
    try:
        return RDBStorage(url, engine_kwargs=_engine_kwargs(url))
    except ImportError as error:
        raise InputError(f"study storage {url!r} needs a database driver that is not installed ({error.name}); for "
                         "PostgreSQL: pip install 'effnet[postgres]'") from None
    except Exception as error:  # sqlalchemy's and the drivers' own exception types
        raise InputError(f"cannot reach the study storage {_redact(url)}: {_first_line(error)}") from None


def _engine_kwargs(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 10}}
    return {}


def _redact(url: str) -> str:
    """A URL without its password."""
    head, at, tail = url.rpartition("@")
    if not at or ":" not in head.split("//", 1)[-1]:
        return url
    scheme, _, credentials = head.partition("//")
    return f"{scheme}//{credentials.split(':', 1)[0]}:***@{tail}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__


class Engine:
    """One study in one output folder (and its storage): create or resume it, run it with K workers, read it."""

    def __init__(self, plan: Plan, output: str | os.PathLike[str], *, storage: str | None = None,
                 pruner: optuna.pruners.BasePruner | None = None) -> None:
        self.plan, self.output, self.storage_url = plan, Path(output), storage
        if self.output.exists() and not self.output.is_dir():
            raise InputError(f"output {self.output} is a file, not a study folder")
        self._check_folder()
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.storage = open_storage(self.output, storage)
        try:
            self.study = optuna.create_study(storage=self.storage, study_name=plan.name, load_if_exists=True,
                                             directions=list(plan.directions), sampler=make_sampler(plan, 0),
                                             pruner=pruner or optuna.pruners.NopPruner())
        except Exception as error:  # a corrupt journal or an unusable database surfaces here
            raise InputError(f"cannot open the study in {self.output}: {_first_line(error)}") from None
        stored = self.study.user_attrs.get("effnet.inputs")
        if stored is None:
            self.study.set_user_attr("effnet.kind", plan.kind)
            self.study.set_user_attr("effnet.inputs", plan.inputs)
        elif stored != plan.inputs:
            raise InputError(f"the study {plan.name} was made by a different configuration "
                             f"({_first_difference(stored, plan.inputs)})")
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
            raise InputError(f"{record} is damaged ({_first_line(error)}); not an effnet study folder") from None
        if kind != self.plan.kind:
            raise InputError(f"{self.output} holds a {kind} study, not a {self.plan.kind}")
        if inputs != self.plan.inputs:
            raise InputError(f"{self.output} holds a {kind} made by a different configuration "
                             f"({_first_difference(inputs, self.plan.inputs)}); use another output folder")

    def _write_folder_record(self) -> None:
        record = self.output / STUDY_FILE
        if record.exists():
            return
        self.output.mkdir(parents=True, exist_ok=True)
        data = {"kind": self.plan.kind, "study": self.plan.name, "storage": _redact(self.storage_url or JOURNAL_FILE),
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
            if silent or _dead_here(trial.user_attrs.get(WORKER_ATTR)):
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
                   if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)}
        added = 0
        for params in self.plan.trials:
            key = trial_key(params)
            if key not in present:
                self.study.enqueue_trial(params, user_attrs={KEY: key})
                present.add(key)
                added += 1
        return added

    def counts(self) -> dict[str, int]:
        """Planned trials done (finished or pruned), running, waiting, failed (without a later success)."""
        if self.plan.asks:
            return self._search_counts()
        latest: dict[str, TrialState] = {}
        for trial in self.trials():
            key = trial.user_attrs.get(KEY)
            if key is None:
                continue
            if trial.state in (TrialState.COMPLETE, TrialState.PRUNED) or latest.get(key) not in (
                    TrialState.COMPLETE, TrialState.PRUNED):
                latest[key] = trial.state
        planned = [trial_key(params) for params in self.plan.trials]
        states = [latest.get(key) for key in planned]
        done = sum(state in (TrialState.COMPLETE, TrialState.PRUNED) for state in states)
        running = sum(state == TrialState.RUNNING for state in states)
        failed = sum(state == TrialState.FAIL for state in states)
        return {"planned": len(planned), "done": done, "running": running, "failed": failed,
                "waiting": len(planned) - done - running - failed}

    def _search_counts(self) -> dict[str, int]:
        trials = self.trials()
        done = sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
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
        with _Display(self, progress) as display:
            if workers == 1:
                thread = threading.Thread(target=display.follow, daemon=True)
                thread.start()
                work(jobs[0])
            else:
                context = multiprocessing.get_context("spawn")
                processes = [context.Process(target=work, args=(job,), daemon=False) for job in jobs]
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

    def all_records(self) -> list[Record]:
        """Every trial in number order (a search's proposals, cached candidates, failures), as stored."""
        out = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            metrics = {k: v for k, v in trial.user_attrs.items() if not k.startswith("effnet.")}
            metrics.update(_times(trial))
            if trial.state == TrialState.FAIL:
                metrics["error"] = trial.user_attrs.get(ERROR_ATTR)
            params = dict(trial.params or trial.system_attrs.get("fixed_params") or {})
            out.append(Record(trial.number, trial.state.name.lower(), params, metrics))
        return out

    def records(self) -> list[Record]:
        """The planned trials' latest finished results (COMPLETE or PRUNED), in plan order; then failures."""
        best: dict[str, Record] = {}
        failures: list[Record] = []
        for trial in sorted(self.trials(), key=lambda t: t.number):
            key = trial.user_attrs.get(KEY)
            params = dict(trial.system_attrs.get("fixed_params") or trial.params)
            metrics = {k: v for k, v in trial.user_attrs.items() if not k.startswith("effnet.")}
            metrics.update(_times(trial))
            record = Record(trial.number, trial.state.name.lower(), params, metrics)
            if trial.state == TrialState.COMPLETE:
                metrics.setdefault("value", trial.value)
                best[key] = record
            elif trial.state == TrialState.PRUNED and key not in best:
                best[key] = record
            elif trial.state == TrialState.FAIL:
                record.metrics["error"] = trial.user_attrs.get(ERROR_ATTR)
                failures.append(record)
        ordered = [best[trial_key(params)] for params in self.plan.trials if trial_key(params) in best]
        unresolved = [r for r in failures if r.key not in best]
        return ordered + unresolved


def _times(trial: FrozenTrial) -> dict[str, float]:
    """When a trial started and finished (Unix seconds), for throughput figures."""
    out = {}
    if trial.datetime_start is not None:
        out["started"] = trial.datetime_start.timestamp()
    if trial.datetime_complete is not None:
        out["finished"] = trial.datetime_complete.timestamp()
    return out


def throughput(records: Sequence[Record]) -> dict[str, float] | None:
    """Finished trials per hour over the wall-clock span from the first start to the last finish."""
    done = [r for r in records if r.state == "complete" and "started" in r.metrics and "finished" in r.metrics]
    if not done:
        return None
    span = max(r.metrics["finished"] for r in done) - min(r.metrics["started"] for r in done)
    return {"trials": len(done), "wall_hours": round(span / 3600, 3),
            "trials_per_hour": round(len(done) / (span / 3600), 2) if span > 0 else None}


def _first_difference(old: Any, new: Any, path: str = "") -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'inputs'}: was {json.dumps(old)[:80]}, now {json.dumps(new)[:80]}"


def resolve(objective: str) -> Objective:
    """The objective function named "module:function"."""
    module, _, name = objective.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise InputError(f"no objective {objective!r}") from None


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
    study = optuna.load_study(study_name=job.plan.name, storage=storage, sampler=make_sampler(job.plan, job.index))
    objective = resolve(job.objective)
    while True:
        trial_id = study._pop_waiting_trial_id()  # Optuna's atomic claim: WAITING -> RUNNING for one process
        if trial_id is None and job.plan.asks:
            trial_id = _ask_within_budget(study, job.plan.total)
        if trial_id is None:
            return
        _run_one(study, trial_id, objective, job)


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
            if _taken_elsewhere(study, key, frozen.number):
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
            message = f"{type(error).__name__}: {_first_line(error)}"
            storage.set_trial_user_attr(trial_id, ERROR_ATTR, message)
            study.tell(trial, state=TrialState.FAIL)
            print(f"effnet: warning: trial {frozen.number} ({key}) failed: {message}", file=sys.stderr)
            if os.environ.get("EFFNET_DEBUG"):
                traceback.print_exc()


def worker_id() -> str:
    """This process, as host:pid (a resume on the same host can tell a dead worker at once)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _dead_here(worker: object) -> bool:
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


def _taken_elsewhere(study: optuna.Study, key: str, number: int) -> bool:
    """Whether another trial with the same parameters is finished or running (a duplicate enqueue)."""
    for other in study._storage.get_all_trials(study._study_id, deepcopy=False,
                                               states=(TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)):
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


class _Display:
    """Trials done / running / left with an ETA, on stderr (a bar on a terminal, a line per change otherwise)."""

    def __init__(self, engine: Engine, enabled: bool) -> None:
        self.engine, self.enabled = engine, enabled
        self.started, self.last_line = time.time(), ""
        self.stop = threading.Event()
        self.console = Console(stderr=True)
        self.bar: Progress | None = None
        self.task = 0

    def __enter__(self) -> _Display:
        if self.enabled and self.console.is_terminal:
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), TextColumn("{task.fields[info]}"), console=self.console)
            self.bar.__enter__()
            self.task = self.bar.add_task(self.engine.plan.kind, total=len(self.engine.plan.trials), info="")
        self.first = self.engine.counts()["done"]
        self.update()
        return self

    def follow(self) -> None:
        while not self.stop.wait(2.0):
            with contextlib.suppress(Exception):
                self.update()

    def update(self) -> None:
        if not self.enabled:
            return
        counts = self.engine.counts()
        finished_here = counts["done"] - self.first
        elapsed = time.time() - self.started
        left = counts["waiting"] + counts["running"]
        eta = "?" if finished_here <= 0 else _duration(elapsed / finished_here * left)
        info = (f"{counts['done']} done, {counts['running']} running, {left} left"
                f"{', ' + str(counts['failed']) + ' failed' if counts['failed'] else ''}, ETA {eta}")
        if self.bar is not None:
            self.bar.update(self.task, completed=counts["done"], info=info)
        elif info != self.last_line:
            print(f"{self.engine.plan.kind}: {info}", file=sys.stderr, flush=True)
            self.last_line = info

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        with contextlib.suppress(Exception):
            self.update()
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def summarize(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


__all__ = ["HEARTBEAT", "JOURNAL_FILE", "STALE_AFTER", "STUDY_FILE", "Engine", "Plan", "Record", "TrialContext",
           "open_storage", "summarize", "throughput", "trial_key", "trial_slug", "work"]
