"""Run state: what a checkpoint holds, writing it so a run folder stays consistent at every moment, and reading
it back for an exact resume.

A run folder holds `last.pt` (everything needed to continue), `best.pt`, `metrics.jsonl` (one row per epoch) and,
at the end, `pretrained/` (+ `pretrained-ema/`). Every file is replaced atomically. The epoch rows live inside
the checkpoint (`history`) and `metrics.jsonl` is rewritten from it after the checkpoint, so a kill -9 at any
moment never leaves a row that the checkpoint does not know (no duplicated or lost rows on resume); `best.pt` is
written before `last.pt`, so the best model is never older than what `last.pt` claims."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..architecture.spec import NetSpec
from ..architecture.training_defaults import TrainingDefaults
from ..errors import InputError, OutputError, WeightsError, option
from ..hub.checkpoints import FORMAT, checkpoint_spec, checkpoint_training, load_checkpoint
from ..model.preprocessing import Preprocessing
from ..outputs import atomic_path, disk_full, remove_stale_temps

LAST, BEST, METRICS = "last.pt", "best.pt", "metrics.jsonl"


@dataclass
class EpochSoFar:
    """What the epoch in progress did before its run was last stopped in it, so that the epoch's row counts its
    whole training time, images and loss once it finishes, not only the part after the resume."""

    train_seconds: float = 0.0
    images: int = 0
    loss_sum: float = 0.0
    steps: int = 0

    def plus(self, train_seconds: float, images: int, losses: list[float]) -> EpochSoFar:
        return EpochSoFar(self.train_seconds + train_seconds, self.images + images, self.loss_sum + sum(losses),
                          self.steps + len(losses))


@dataclass
class Progress:
    """Where a run stands: the next (epoch, step in it), optimizer steps so far, best val top-1, epoch rows, and
    the learning curve (every validation point), and what the epoch in progress did before the run last stopped."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_top1: float = -1.0
    history: list[dict[str, Any]] = field(default_factory=list)
    curve: list[dict[str, Any]] = field(default_factory=list)
    epoch_so_far: EpochSoFar = field(default_factory=EpochSoFar)


def signature(model: str, spec: NetSpec, num_classes: int, training: TrainingDefaults) -> dict[str, Any]:
    """What a checkpoint must match to be resumed by a run: the architecture, the classifier size and the training
    settings the model is built with."""
    return {"model": model, "spec": json.dumps(spec.to_dict(), sort_keys=True), "num_classes": int(num_classes),
            "training": training.to_dict()}


def rng_state() -> dict[str, Any]:
    """Every RNG the training step touches, as tensors/plain values (weights_only-safe)."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, *rest = state["python"]
    random.setstate((version, tuple(rest[0]), *rest[1:]) if isinstance(rest[0], list) else state["python"])
    name, keys, *others = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *others))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class RunFolder:
    """The files of one run and the rules for writing them."""

    def __init__(self, output: str | Path) -> None:
        self.path = Path(output)
        self.last, self.best, self.metrics = self.path / LAST, self.path / BEST, self.path / METRICS

    def resume_point(self, resume: bool | str, overwrite: bool = False) -> Path | None:
        """The checkpoint to continue from; an error when the folder already holds a run and resuming was not
        asked for (or, with `overwrite`, clear that run's files first)."""
        for written in (self.last, self.best, self.metrics):  # left by a run that was killed while writing
            remove_stale_temps(written)
        if resume:
            path = (self.latest() or self.last) if resume is True else Path(str(resume))
            if not path.is_file():
                raise InputError(f"cannot resume: no checkpoint at {path}")
            return path
        existing = [p for p in (self.last, self.best, self.metrics) if p.exists()]
        if existing and not overwrite:
            raise OutputError(f"{self.path} already holds a run ({existing[0].name}); continue it with "
                              f"{option('resume')} or start over with {option('overwrite')}")
        for path in existing:
            path.unlink()
        return None

    def latest(self) -> Path | None:
        """The checkpoint to continue from: `last.pt`, or `best.pt` when a run was killed after writing its first
        best.pt and before its first last.pt (both hold the whole state); None for a folder without either."""
        for path in (self.last, self.best):
            if path.is_file():
                return path
        return None

    def _write(self, path: Path, write: Callable[[Path], None]) -> None:
        try:
            with atomic_path(path) as temp:
                write(temp)
        except OSError as error:
            if disk_full(error):
                raise OutputError(f"no space left on the device while writing {path}; the previous {path.name} "
                                  "is intact") from None
            raise

    def save(self, state: dict[str, Any], best: bool) -> None:
        """`best.pt` (when this is the best epoch), then `last.pt`, then `metrics.jsonl` from the history."""
        self.path.mkdir(parents=True, exist_ok=True)
        if best:
            self._write(self.best, lambda temp: torch.save(state, temp))
        self._write(self.last, lambda temp: torch.save(state, temp))
        if state["history"] or self.metrics.exists():
            self.write_metrics(state["history"])

    def write_metrics(self, history: list[dict[str, Any]]) -> None:
        text = "".join(json.dumps(row, allow_nan=False) + "\n" for row in history)
        self._write(self.metrics, lambda temp: temp.write_text(text))


def make_checkpoint(*, sig: dict[str, Any], model: nn.Module, ema: nn.Module | None, optimizer: Any, scheduler: Any,
                    scaler: Any, progress: Progress, global_batch: int, rngs: dict[str, Any], recipe: dict[str, Any],
                    classes: list[str], preprocessing: Preprocessing, in_chans: int) -> dict[str, Any]:
    """Everything needed to continue the run exactly (plain tensors, numbers and strings only)."""
    return {"format": FORMAT, **sig, "model_state": model.state_dict(),
            "ema_state": ema.state_dict() if ema is not None else None, "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else None,
            "epoch": progress.epoch, "step_in_epoch": progress.step_in_epoch, "global_step": progress.global_step,
            "global_batch": global_batch, "best_top1": progress.best_top1, "history": list(progress.history),
            "curve": list(progress.curve), "epoch_so_far": asdict(progress.epoch_so_far),
            "rng": rngs, "recipe": recipe, "classes": list(classes), "preprocessing": preprocessing.to_dict(),
            "in_chans": in_chans}


def restore_checkpoint(path: Path, *, metrics: Path, sig: dict[str, Any], global_batch: int, model: nn.Module,
                       ema: nn.Module | None, optimizer: Any, scheduler: Any, scaler: Any) -> tuple[Progress, dict]:
    """Load a checkpoint into the run's objects after checking it belongs to this run; returns the progress and
    the saved RNG states (for the caller to pick its rank's)."""
    data = load_checkpoint(path)
    spec = checkpoint_spec(data, str(path))  # a checkpoint's spec of an older format is compared as it reads now
    if json.dumps(spec.to_dict(), sort_keys=True) != sig["spec"] or data.get("num_classes") != sig["num_classes"]:
        raise WeightsError(f"checkpoint {path} was written for model {data.get('model')!r} with "
                           f"{data.get('num_classes')} classes; this run builds {sig['model']!r} with "
                           f"{sig['num_classes']} classes (different architecture or options)")
    trained = checkpoint_training(data, spec, str(path)).to_dict()
    if trained != sig["training"]:
        raise WeightsError(f"checkpoint {path} was trained with {_said(trained)}; this run would build the model "
                           f"with {_said(sig['training'])} (another recipe or options): resume with the same ones")
    if data["global_batch"] != global_batch:
        raise InputError(f"resuming with global batch {global_batch} contradicts the checkpoint's "
                         f"{data['global_batch']} (batch size x accumulation x processes must match)")
    model.load_state_dict(data["model_state"])
    if ema is not None and data["ema_state"] is not None:
        ema.load_state_dict(data["ema_state"])
    optimizer.load_state_dict(data["optimizer"])
    scheduler.load_state_dict(data["scheduler"])
    if scaler and data["scaler"]:
        scaler.load_state_dict(data["scaler"])
    history = data.get("history")
    if history is None:  # written before checkpoints held their rows: keep the rows this checkpoint had seen
        history = [row for row in _read_rows(metrics) if row.get("step", 0) <= int(data["global_step"])]
    curve = data.get("curve")
    if curve is None:  # written before checkpoints held their curve: the epoch rows that were validated
        curve = [{"step": row.get("step"), "epoch": row.get("epoch"), "val_top1": row.get("val_top1"),
                  "val_top5": row.get("val_top5"), "val_loss": row.get("val_loss"), "ema_top1": row.get("ema_top1")}
                 for row in history if row.get("val_top1") is not None]
    progress = Progress(int(data["epoch"]), int(data["step_in_epoch"]), int(data["global_step"]),
                        float(data["best_top1"]), list(history), list(curve), _epoch_so_far(data, path))
    return progress, data["rng"]


def _epoch_so_far(data: dict[str, Any], path: Path) -> EpochSoFar:
    """The stopped epoch's part before the resume; zero for checkpoints written before they held it."""
    held = data.get("epoch_so_far") or {}
    try:
        so_far = EpochSoFar(float(held.get("train_seconds", 0.0)), int(held.get("images", 0)),
                            float(held.get("loss_sum", 0.0)), int(held.get("steps", 0)))
    except (AttributeError, TypeError, ValueError):
        raise WeightsError(f"checkpoint {path} is corrupt: its epoch_so_far is {held!r}") from None
    if min(so_far.train_seconds, so_far.images, so_far.steps) < 0:
        raise WeightsError(f"checkpoint {path} is corrupt: its epoch_so_far is {held!r}")
    return so_far


def _said(settings: dict[str, Any]) -> str:
    return ", ".join(f"{key} {value:g}" for key, value in settings.items())


def _read_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


__all__ = ["BEST", "LAST", "METRICS", "EpochSoFar", "Progress", "RunFolder", "make_checkpoint", "restore_checkpoint",
           "rng_state", "set_rng_state", "signature"]
