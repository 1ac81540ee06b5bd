"""Training recipes as typed presets: `paper` (Section 5.2), `small-data` and `finetune`; each field can be
overridden from a YAML/JSON file (`base: NAME` picks the preset it starts from) or `KEY=VALUE` strings."""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from ..data.transforms import Augmentation
from ..errors import InputError

OPTIMIZERS = ("rmsproptf", "sgd", "adamw")
SCHEDULES = ("step", "cosine", "constant")
AUGMENTATION_FIELDS = frozenset(f.name for f in fields(Augmentation))
ALIASES = {"augment": "policy"}  # the augmentation policy's name in recipes written before the sub-config


@dataclass(frozen=True)
class Recipe:
    """Everything about *how* to train, independent of the model and data.

    `lr` is per `lr_batch` images and is scaled linearly with the global batch; `decay_epochs`/`decay_rate`
    drive the `step` schedule (x0.97 every 2.4 epochs); `bn_momentum` is PyTorch's convention (TF 0.99 = 0.01);
    `drop_path` = 1 - survival probability; `dropout` the classifier's. These three train the model and are never
    part of its spec; one left None is the model's own training default (`model.card.training`: B0-B7's dropout
    grows 0.2 -> 0.5);
    `crop_fraction` is the validation crop; `augmentation` the training-time augmentation; `zero_init_residual`
    starts every residual branch at zero (its last BN gamma; a network trained from scratch only), so a deep
    network starts as a shallow one."""

    name: str = "custom"
    epochs: int = 350
    batch_size: int = 128
    optimizer: str = "rmsproptf"
    lr: float = 0.256
    lr_batch: int = 4096
    momentum: float = 0.9
    rms_decay: float = 0.9
    eps: float = 1e-3
    weight_decay: float = 1e-5
    schedule: str = "step"
    warmup_epochs: float = 5.0
    decay_epochs: float = 2.4
    decay_rate: float = 0.97
    min_lr_ratio: float = 0.0
    label_smoothing: float = 0.1
    bn_momentum: float | None = 0.01
    drop_path: float | None = 0.2
    dropout: float | None = None
    ema_decay: float = 0.9999
    ema_warmup: bool = True
    crop_fraction: float = 0.875
    grad_clip: float = 0.0
    zero_init_residual: bool = False
    augmentation: Augmentation = field(default_factory=Augmentation)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"recipe optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise InputError(f"recipe schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if not isinstance(self.zero_init_residual, bool):
            raise InputError(f"recipe {self.name!r}: zero_init_residual must be true or false")
        if not isinstance(self.augmentation, Augmentation):
            raise InputError("recipe augmentation must be an Augmentation")
        numbers = {name: getattr(self, name) for name in (
            "lr", "momentum", "rms_decay", "eps", "weight_decay", "warmup_epochs", "decay_epochs", "decay_rate",
            "min_lr_ratio", "label_smoothing", "ema_decay", "crop_fraction", "grad_clip")}
        for name in ("bn_momentum", "drop_path", "dropout"):
            if getattr(self, name) is not None:
                numbers[name] = getattr(self, name)
        for name, value in numbers.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InputError(f"recipe {self.name!r}: {name} must be a finite number, got {value!r}")
        checks = {"epochs": 1 <= self.epochs <= 100_000, "batch_size": 1 <= self.batch_size <= 1_000_000,
                  "lr": 0 < self.lr <= 100, "lr_batch": 1 <= self.lr_batch <= 1_000_000,
                  "momentum": 0 <= self.momentum < 1, "rms_decay": 0 <= self.rms_decay < 1, "eps": 0 < self.eps <= 1,
                  "weight_decay": 0 <= self.weight_decay <= 100,
                  "warmup_epochs": 0 <= self.warmup_epochs <= self.epochs,
                  "decay_epochs": 0 < self.decay_epochs <= 100_000,
                  "decay_rate": 0 < self.decay_rate <= 1, "min_lr_ratio": 0 <= self.min_lr_ratio <= 1,
                  "label_smoothing": 0 <= self.label_smoothing < 1, "ema_decay": 0 <= self.ema_decay < 1,
                  "crop_fraction": 0.05 <= self.crop_fraction <= 1, "grad_clip": 0 <= self.grad_clip <= 1e6,
                  "bn_momentum": self.bn_momentum is None or 0 < self.bn_momentum <= 1,
                  "drop_path": self.drop_path is None or 0 <= self.drop_path < 1,
                  "dropout": self.dropout is None or 0 <= self.dropout < 1}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            extra = f" (more than the {self.epochs} epochs)" if bad[0] == "warmup_epochs" and \
                self.warmup_epochs > self.epochs else ""
            raise InputError(f"recipe {self.name!r}: invalid {bad[0]} = {getattr(self, bad[0])!r}{extra}")

    def scaled_lr(self, global_batch: int) -> float:
        """Linear scaling rule: lr * global_batch / lr_batch."""
        return self.lr * global_batch / self.lr_batch

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, Recipe] = {
    # Section 5.2: RMSProp(decay 0.9, momentum 0.9), lr 0.256 per 4096, x0.97 every 2.4 epochs, BN momentum 0.99,
    # wd 1e-5, label smoothing 0.1, AutoAugment, survival 0.8, EMA 0.9999; 350 epochs as in the TF reference.
    "paper": Recipe(name="paper"),
    # Small low-resolution datasets (Fashion-MNIST, CIFAR) from scratch in few epochs: AdamW + cosine, light
    # augmentation (AutoAugment's ImageNet policy hurts 28px grayscale), crops that keep most of the object,
    # random erasing, faster-moving EMA and BN statistics. lr 0.006 per 256 images: in 150-step Fashion-MNIST
    # probes (phi=-3, 32 px, batch 128) 2e-3 reached 41.6% val top-1, 8e-3 57.3%, 16e-3 64.7%, but a long run
    # at 0.012 was unstable (val top-1 80.9% -> 46.8% -> 74.7% over epochs 2-4; BENCHMARKS.md).
    "small-data": Recipe(name="small-data", epochs=30, batch_size=128, optimizer="adamw", lr=0.006, lr_batch=256,
                         weight_decay=0.05, schedule="cosine", warmup_epochs=1.0, bn_momentum=0.1, drop_path=0.1,
                         dropout=0.1, ema_decay=0.999, crop_fraction=1.0,
                         augmentation=Augmentation(policy="none", crop_scale_min=0.8, random_erasing=0.25)),
    # Short study schedules (the scaling study's, the searches' trials): small-data's optimiser and schedule, with
    # what would otherwise punish depth removed -- residual branches start at zero, so a network made deeper starts
    # as the shallower one (on the recorded 2-epoch proxy, depth-4x went from 35.8% to 80.5% with it), and no
    # stochastic depth, which drops more blocks per image the deeper the network is -- and light augmentation
    # only (crops that keep most of the object, no erasing): a few hundred steps cannot use a strong regulariser.
    "proxy": Recipe(name="proxy", epochs=10, batch_size=128, optimizer="adamw", lr=0.006, lr_batch=256,
                    weight_decay=0.05, schedule="cosine", warmup_epochs=0.5, bn_momentum=0.1, drop_path=0.0,
                    dropout=0.1, ema_decay=0.0, crop_fraction=1.0, zero_init_residual=True,
                    augmentation=Augmentation(policy="none", crop_scale_min=0.8, random_erasing=0.0)),
    # Transfer (Section 5.3): start from ImageNet weights, SGD + cosine, short warm-up, BN statistics that adapt
    # quickly to the new domain. In 1-epoch probes (pretrained Lite0 -> 6000 Fashion-MNIST images, 64 px, batch
    # 64) lr 0.01 per 256 with BN momentum 0.01 reached 58.2% val top-1; lr 0.1 with BN momentum 0.1 79.7%
    # (79.4% without RandAugment); lr 0.2 78.2%.
    "finetune": Recipe(name="finetune", epochs=10, batch_size=64, optimizer="sgd", lr=0.1, lr_batch=256,
                       weight_decay=1e-5, schedule="cosine", warmup_epochs=0.5, bn_momentum=0.1, drop_path=0.1,
                       dropout=None, ema_decay=0.999, crop_fraction=1.0,
                       augmentation=Augmentation(policy="randaugment", crop_scale_min=0.6)),
}


def _coerce(name: str, value: Any, kind: Any) -> Any:
    """Convert a value from a file or the command line to the field's declared type."""
    args = [a for a in typing.get_args(kind) if a is not type(None)]
    base = args[0] if args else kind
    optional = type(None) in typing.get_args(kind)
    is_null = isinstance(value, str) and value.lower() in ("none", "null")
    if value is None or (is_null and (optional or base is not str)):
        if optional:
            return None
        raise InputError(f"recipe field {name} cannot be empty")
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError(value)
                return value.lower() in ("true", "1", "yes")
            if not isinstance(value, (bool, int)):
                raise ValueError(value)
            return bool(value)
        if base in (int, float) and isinstance(value, (list, dict, bool)):
            raise ValueError(value)
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        if base is int and isinstance(value, str) and "." in value:
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if base is str and not isinstance(value, str):
            raise ValueError(value)
        return base(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"recipe field {name} needs a {base.__name__}, got {value!r}") from None


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate recipe fields from augmentation fields (`policy=...`, `augmentation.policy=...`, a nested
    `augmentation: {...}` mapping, or the older flat names such as `augment=...`)."""
    own, augmentation = {}, {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name == "augmentation" and isinstance(value, dict):
            augmentation.update({ALIASES.get(k, k): v for k, v in value.items()})
        elif name.startswith("augmentation."):
            augmentation[ALIASES.get(name.split(".", 1)[1], name.split(".", 1)[1])] = value
        elif ALIASES.get(name, name) in AUGMENTATION_FIELDS:
            augmentation[ALIASES.get(name, name)] = value
        else:
            own[name] = value
    return own, augmentation


def apply_overrides(recipe: Recipe, values: dict[str, Any]) -> Recipe:
    """A copy of `recipe` with typed `values` (augmentation fields go to its sub-config); unknown keys are an
    error naming the known ones."""
    own, augmentation = _split(values)
    hints = typing.get_type_hints(Recipe)
    known = {f.name for f in fields(Recipe)} - {"augmentation"}
    unknown = sorted((set(own) - known) | (set(augmentation) - AUGMENTATION_FIELDS))
    if unknown:
        raise InputError(f"unknown recipe field(s) {', '.join(unknown)}; known: "
                         f"{', '.join(sorted(known | AUGMENTATION_FIELDS))}")
    aug_hints = typing.get_type_hints(Augmentation)
    new_augmentation = replace(recipe.augmentation, **{k: _coerce(k, v, aug_hints[k]) for k, v in
                                                       augmentation.items()})
    return replace(recipe, **{k: _coerce(k, v, hints[k]) for k, v in own.items()}, augmentation=new_augmentation)


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """`["lr=0.1", "epochs=3"]` -> dict; each item must be KEY=VALUE."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"expected KEY=VALUE, got {item!r}")
        out[key.strip().replace("-", "_")] = value.strip()
    return out


MAX_YAML_EVENTS = 10_000  # a recipe is a few dozen fields; far more is a hostile file


def safe_yaml(text: str, path: Path) -> Any:
    """YAML with the safe loader, refusing aliases (nested ones expand exponentially: a few hundred bytes can hold
    billions of nodes) and documents of more than `MAX_YAML_EVENTS` events, before anything is built."""
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        if isinstance(event, yaml.AliasEvent):
            raise InputError(f"recipe file {path} uses YAML aliases (*name); write the values out")
        if count > MAX_YAML_EVENTS:
            raise InputError(f"recipe file {path} holds more than {MAX_YAML_EVENTS:,} YAML nodes; not a recipe")
    return yaml.safe_load(text)


def load_recipe(name_or_file: str | Path = "paper", overrides: dict[str, Any] | None = None) -> Recipe:
    """A preset by name or a YAML/JSON file (optionally `base: PRESET`), then `overrides` on top."""
    key = str(name_or_file)
    if key in PRESETS:
        recipe = PRESETS[key]
    else:
        path = Path(key)
        if not path.is_file():
            raise InputError(f"unknown recipe {key!r}: use one of {', '.join(PRESETS)} or a .yaml/.json file")
        if path.stat().st_size > 1 << 20:
            raise InputError(f"recipe file {path} is too large to be a recipe")
        try:
            text = path.read_text(encoding="utf-8")
            data = safe_yaml(text, path) if path.suffix.lower() in (".yaml", ".yml") else json.loads(text)
        except (UnicodeDecodeError, yaml.YAMLError, json.JSONDecodeError, RecursionError) as error:
            raise InputError(f"cannot parse recipe file {path}: {str(error).splitlines()[0]}") from None
        if not isinstance(data, dict):
            raise InputError(f"recipe file {path} must hold a mapping of field: value")
        base = str(data.pop("base", "paper"))
        if base not in PRESETS:
            raise InputError(f"recipe file {path}: unknown base {base!r}; use one of {', '.join(PRESETS)}")
        recipe = apply_overrides(PRESETS[base], {"name": path.stem, **data})
    return apply_overrides(recipe, overrides) if overrides else recipe
