"""What every experiment is to the engine -- the scaling study, the coefficient search, the architecture search,
comparisons, the convergence check: a plan of trials, the data its trials share (derived once, stored in the
study), an objective that runs one trial in a worker process (named "module:function"), and the outputs written
from the finished trials. `run_experiment` is the one way any of them runs."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

from .plan import MAX_THREADS, MAX_WORKERS, Plan, check_count
from .storage import open_storage
from .study import Engine


class Experiment(Protocol):
    """An experiment the engine can run. `prepare` checks everything that can be checked before anything is
    written (data, baseline, budgets) and returns the experiment with what it learnt filled in (the number of
    classes); `outputs` names the files `write` puts into the study folder."""

    objective: str
    outputs: tuple[str, ...]

    def prepare(self) -> Experiment: ...

    def plan(self) -> Plan: ...

    def derive(self, engine: Engine) -> None: ...

    def write(self, engine: Engine, counts: dict[str, int]) -> dict[str, Any]: ...


def run_experiment(experiment: Experiment, output: str | os.PathLike[str], *, storage: str | None = None,
                   workers: int = 1, threads: int = 1, progress: bool = True, overwrite: bool = False,
                   max_failures: int | None = None) -> dict[str, Any]:
    """Check, then run (or resume) `experiment` in `output` and write its outputs; returns what `write` returns.
    Nothing is written when a check fails; stopped early (Ctrl-C, `max_failures` failed trials in a row), the
    outputs are written from the trials finished so far before the stop goes on."""
    check_count("workers", workers, MAX_WORKERS)
    check_count("threads", threads, MAX_THREADS)
    if storage is not None:
        open_storage(Path(output), storage, create=False)  # an unreachable database: one line, before anything else
    experiment = experiment.prepare()
    plan = experiment.plan()
    if max_failures is not None:
        plan = replace(plan, max_failures=max_failures)
    engine = Engine(plan, output, storage=storage, overwrite=overwrite, outputs=experiment.outputs)
    experiment.derive(engine)
    return engine.run_and_write(experiment.objective, lambda counts: experiment.write(engine, counts),
                                workers=workers, threads=threads, progress=progress)


__all__ = ["Experiment", "run_experiment"]
