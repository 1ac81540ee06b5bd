"""One trial of a study: (spec, recipe, data, seed) -> train on a proxy schedule -> score. The scaling study, the
coefficient search and the architecture search all train their candidates here, with effnet's own trainer."""

from __future__ import annotations

import contextlib
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import torch

from ..architecture.profiling import analyze
from ..architecture.spec import NetSpec
from ..data import VAL_SPLITS, make_splits
from ..deploy.bench import measure_latency
from ..errors import InputError
from ..model.build import build
from ..train import TrainConfig, Trainer, load_recipe, parse_assignments
from ..train.config import MAX_VAL_POINTS
from ..train.state import RunFolder


@dataclass(frozen=True)
class ProxySchedule:
    """How every trial of a study is trained and scored: the data, the recipe (with `KEY=VALUE` overrides), and
    the reduced schedule -- epochs, the first `limit_train` training and `limit_val` validation images, and
    `resolution` (px) for the baseline before it is scaled (None: the baseline's own); `limit_test` scores only the
    first N test images (smoke runs: a result needs the whole test split).

    Trials validate on a held-out part of the training set (`val_split="holdout"`; the test split is scored once,
    at the end, for the final tables) at `val_points` evenly spread steps -- the learning curve that tells whether
    the schedule was long enough -- and after the last epoch (`validate="every"`: after every epoch too)."""

    data: str = "fashion-mnist"
    data_dir: str | None = None
    recipe: str = "proxy"
    overrides: tuple[str, ...] = ()
    epochs: int = 2
    batch_size: int | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    resolution: int | None = None
    device: str = "cpu"
    limit_test: int | None = None
    validate: str = "last"
    val_split: str = "holdout"
    val_points: int = 4

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "limit_train", "limit_val", "limit_test", "resolution"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InputError(f"{name.replace('_', '-')} must be a positive integer, got {value!r}")
        if self.validate not in ("every", "last"):
            raise InputError(f"validate must be every or last, got {self.validate!r}")
        if self.val_split not in VAL_SPLITS:
            raise InputError(f"val-split must be one of {', '.join(VAL_SPLITS)}, got {self.val_split!r}")
        if isinstance(self.val_points, bool) or not isinstance(self.val_points, int) or \
                not 0 <= self.val_points <= MAX_VAL_POINTS:
            raise InputError(f"val-points must be an integer in [0, {MAX_VAL_POINTS}], got {self.val_points!r}")
        if self.resolution is not None and self.resolution < 8:
            raise InputError(f"resolution must be at least 8 px, got {self.resolution}")
        load_recipe(self.recipe, parse_assignments(list(self.overrides)))  # refuse a bad recipe before any trial

    def with_epochs(self, epochs: int) -> ProxySchedule:
        """The same schedule at another length (a fidelity of a study)."""
        return replace(self, epochs=int(epochs))

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


@dataclass(frozen=True)
class DataFacts:
    """What a study learns from its data before it starts: the classes and the size of each part."""

    classes: int
    train: int
    val: int
    test: int | None
    val_source: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_data(proxy: ProxySchedule) -> DataFacts:
    """Read the proxy's data once, before anything is written: a study refuses data it cannot load at once, in
    one line, instead of failing every trial."""
    parts = make_splits(proxy.data, proxy.val_split, data_dir=proxy.data_dir)
    train = min(len(parts.train), proxy.limit_train or len(parts.train))
    val = min(len(parts.val), proxy.limit_val or len(parts.val))
    if train < 2 or val < 1:
        raise InputError(f"the data {proxy.data!r} leaves {train} training and {val} validation images")
    test = None if parts.test is None else min(len(parts.test), proxy.limit_test or len(parts.test))
    return DataFacts(len(parts.classes), train, val, test, parts.val_source)


def spec_metrics(spec: NetSpec, num_classes: int = 10) -> dict[str, Any]:
    """Cost of a spec without training: parameters, multiply-adds and activations (analytic)."""
    profile = analyze(spec, num_classes=num_classes)
    return {"params": profile.params, "macs": profile.macs, "activations": profile.activations}


def spec_latency(spec: NetSpec, num_classes: int = 10, runs: int = 20) -> float:
    """Measured batch-1 latency (ms, one thread) of a spec on effnet's inference path, with random weights."""
    return measure_latency(build(spec, num_classes).eval(), threads=1, runs=runs)


def train_trial(spec: NetSpec, proxy: ProxySchedule, seed: int, folder: Path,
                on_validate: Callable[[int, float], None] | None = None) -> dict[str, Any]:
    """Train `spec` with the proxy schedule: its validation top-1 / top-5 / loss (what choices are made on), its
    test scores (the final tables' numbers; None without a test split), its learning curve, steps and seconds.

    The trial's run lives in `folder` (checkpoints, metrics): a trial interrupted by a crash continues from its
    last epoch when it runs again. `on_validate(point, val_top1)` sees every validation point, numbered from 1
    (a pruner raises from it)."""
    recipe = load_recipe(proxy.recipe, parse_assignments(list(proxy.overrides)))
    resume = RunFolder(folder).latest() is not None  # a trial killed at any write continues from what it has
    config = TrainConfig(model=spec, data=proxy.data, data_dir=proxy.data_dir, output=str(folder), recipe=recipe,
                         epochs=proxy.epochs, batch_size=proxy.batch_size, limit_train=proxy.limit_train,
                         limit_val=proxy.limit_val, seed=seed, resume=resume, device=proxy.device, progress=False,
                         save_pretrained=False, validate=proxy.validate, val_points=proxy.val_points,
                         val_split=proxy.val_split, limit_test=proxy.limit_test,
                         threads=torch.get_num_threads())  # the worker's threads, as the engine set them

    def seen(point: dict[str, Any]) -> None:
        if on_validate is not None:
            on_validate(len(trainer.curve), float(point["val_top1"]))

    trainer = Trainer(config, on_validate=seen)
    summary = trainer.fit()
    if summary["status"] == "interrupted":
        raise KeyboardInterrupt(f"trial interrupted by {summary['signal']}")
    history = trainer.history
    if not history:
        raise InputError("the trial finished without a validation epoch")
    last = history[-1]
    seconds = sum(row.get("train_seconds") or 0.0 for row in history)
    return {"val_top1": last["val_top1"], "val_top5": last["val_top5"], "val_loss": last["val_loss"],
            "test_top1": last.get("test_top1"), "test_top5": last.get("test_top5"), "test_loss": last.get("test_loss"),
            "test_weights": last.get("test_weights"), "ema_top1": last.get("ema_top1"), "seconds": round(seconds, 2),
            "epochs": len(history), "steps": trainer.progress.global_step, "images_per_s": last.get("images_per_s"),
            "threads": torch.get_num_threads(), "machine": machine(trainer.device),
            "curve": [dict(point) for point in trainer.curve]}


def machine(device: torch.device) -> str:
    """The hardware a trial trained on ('cpu AMD EPYC, AVX512, 2 cores', 'cuda NVIDIA H100 ...'): a study that spans
    sessions may span machines, and their speeds and wall times differ."""
    if device.type == "cuda":
        return f"cuda {torch.cuda.get_device_name(device)}"
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    return f"{device.type} {name}, {torch.backends.cpu.get_cpu_capability()}, {os.cpu_count()} cores"


def curve_rise(curve: list[dict[str, Any]], tail: float = 0.25) -> float | None:
    """How much validation top-1 rose over the last `tail` of the schedule (points, final minus the last point at
    or before (1 - tail) of the steps); None when the curve has no point that early."""
    points = [p for p in curve if p.get("val_top1") is not None and p.get("step")]
    if len(points) < 2:
        return None
    end = points[-1]
    cut = end["step"] * (1.0 - tail) + 1e-9
    earlier = [p for p in points if p["step"] <= cut]
    if not earlier:
        return None
    return round(float(end["val_top1"]) - float(earlier[-1]["val_top1"]), 4)


__all__ = ["DataFacts", "ProxySchedule", "check_data", "curve_rise", "spec_latency", "spec_metrics", "train_trial"]
