"""One trial of a study: (spec, recipe, data, seed) -> train on a proxy schedule -> score. The scaling study, the
coefficient search and the architecture search all train their candidates here, with effnet's own trainer."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch

from .bench import measure_latency
from .build import build
from .errors import InputError
from .profiling import analyze
from .spec import NetSpec
from .train import TrainConfig, Trainer, load_recipe, parse_assignments
from .train.state import LAST


@dataclass(frozen=True)
class ProxySchedule:
    """How every trial of a study is trained and scored: the data, the recipe (with `KEY=VALUE` overrides), and
    the reduced schedule -- epochs, the first `limit_train` training and `limit_val` validation images, and
    `resolution` (px) for the baseline before it is scaled (None: the baseline's own). Trials are validated after
    their last epoch only, unless `validate="every"` (a pruner needs every epoch's accuracy)."""

    data: str = "fashion-mnist"
    data_dir: str | None = None
    recipe: str = "small-data"
    overrides: tuple[str, ...] = ()
    epochs: int = 2
    batch_size: int | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    resolution: int | None = None
    device: str = "cpu"
    validate: str = "last"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "limit_train", "limit_val", "resolution"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.validate not in ("every", "last"):
            raise InputError(f"validate must be every or last, got {self.validate!r}")
        if self.resolution is not None and self.resolution < 8:
            raise InputError(f"resolution must be at least 8 px, got {self.resolution}")
        load_recipe(self.recipe, parse_assignments(list(self.overrides)))  # refuse a bad recipe before any trial

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["overrides"] = list(self.overrides)
        if self.data_dir is not None:
            data["data_dir"] = os.path.abspath(self.data_dir)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProxySchedule:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values["overrides"] = tuple(values.get("overrides", ()))
        return cls(**values)


def spec_metrics(spec: NetSpec, num_classes: int = 10) -> dict[str, Any]:
    """Cost of a spec without training: parameters, multiply-adds and activations (analytic)."""
    profile = analyze(spec, num_classes=num_classes)
    return {"params": profile.params, "macs": profile.macs, "activations": profile.activations}


def spec_latency(spec: NetSpec, num_classes: int = 10, runs: int = 20) -> float:
    """Measured batch-1 latency (ms, one thread) of a spec on effnet's inference path, with random weights."""
    return measure_latency(build(spec, num_classes).eval(), threads=1, runs=runs)


def train_trial(spec: NetSpec, proxy: ProxySchedule, seed: int, folder: Path,
                on_epoch: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train `spec` with the proxy schedule and score it on the validation images: top-1, top-5, training seconds.

    The trial's run lives in `folder` (checkpoints, metrics): a trial interrupted by a crash continues from its
    last epoch when it runs again. `on_epoch(epoch, val_top1)` sees every epoch (pruning raises from it)."""
    recipe = load_recipe(proxy.recipe, parse_assignments(list(proxy.overrides)))
    resume = (folder / LAST).is_file()
    config = TrainConfig(model=spec, data=proxy.data, data_dir=proxy.data_dir, output=str(folder), recipe=recipe,
                         epochs=proxy.epochs, batch_size=proxy.batch_size, limit_train=proxy.limit_train,
                         limit_val=proxy.limit_val, seed=seed, resume=resume, device=proxy.device, progress=False,
                         save_pretrained=False, validate=proxy.validate)
    callback = None if on_epoch is None else (lambda row: on_epoch(int(row["epoch"]), float(row["val_top1"])))
    trainer = Trainer(config, on_epoch=callback)
    summary = trainer.fit()
    if summary["status"] == "interrupted":
        raise KeyboardInterrupt(f"trial interrupted by {summary['signal']}")
    history = trainer.history
    if not history:
        raise InputError("the trial finished without a validation epoch")
    last = history[-1]
    seconds = sum(row.get("train_seconds") or 0.0 for row in history)
    return {"top1": last["val_top1"], "top5": last["val_top5"], "val_loss": last["val_loss"],
            "ema_top1": last.get("ema_top1"), "seconds": round(seconds, 2), "epochs": len(history),
            "images_per_s": last.get("images_per_s"), "threads": torch.get_num_threads()}


__all__ = ["ProxySchedule", "spec_latency", "spec_metrics", "train_trial"]
