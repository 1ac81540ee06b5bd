"""The one engine for experiments (see `effnet.engine.study`): plans of trials on Optuna, run by worker processes
on one machine or many, resumable, with their results read back."""

from .plan import (
    HEARTBEAT,
    JOURNAL_FILE,
    PRUNERS,
    STALE_AFTER,
    STUDY_FILE,
    Plan,
    Record,
    TrialContext,
    make_pruner,
    resolve,
    summarize,
    throughput,
    trial_key,
    trial_slug,
)
from .storage import open_storage
from .study import Engine
from .worker import WorkerJob, work

__all__ = ["HEARTBEAT", "JOURNAL_FILE", "PRUNERS", "STALE_AFTER", "STUDY_FILE", "Engine", "Plan", "Record",
           "TrialContext", "WorkerJob", "make_pruner", "open_storage", "resolve", "summarize", "throughput",
           "trial_key", "trial_slug", "work"]
