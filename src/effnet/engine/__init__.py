"""The one engine for experiments (see `effnet.engine.study`): plans of trials on Optuna, run by worker processes
on one machine or many, resumable, with their results read back; `effnet.engine.protocol` is what every
experiment (scaling study, searches, comparisons) is to it."""

from ..errors import StudyFailing
from .heartbeat import HEARTBEAT, STALE_AFTER
from .plan import (
    INTERRUPTED,
    JOURNAL_FILE,
    MAX_SEEDS,
    MAX_TRIALS,
    PRUNERS,
    STUDY_FILE,
    TRIALS_FOLDER,
    Plan,
    Record,
    TrialContext,
    check_count,
    make_pruner,
    resolve,
    score_text,
    summarize,
    throughput,
    trial_key,
    trial_slug,
)
from .protocol import Experiment, run_experiment
from .storage import open_storage
from .study import Engine
from .worker import WorkerJob, work

__all__ = ["HEARTBEAT", "INTERRUPTED", "JOURNAL_FILE", "MAX_SEEDS", "MAX_TRIALS", "PRUNERS", "STALE_AFTER",
           "STUDY_FILE", "TRIALS_FOLDER", "Engine", "Experiment", "Plan", "Record", "StudyFailing", "TrialContext",
           "WorkerJob", "check_count", "make_pruner", "open_storage", "resolve", "run_experiment", "score_text",
           "summarize", "throughput", "trial_key", "trial_slug", "work"]
