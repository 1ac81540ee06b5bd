"""The model-name registry and spec files: name | spec file -> NetSpec. Family modules register their names, and
each name's (or family's) training defaults -- dropout, drop path, BatchNorm momentum -- with it."""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...errors import UnknownModelError
from ..spec import NetSpec, SpecError, legacy_training
from ..training_defaults import TrainingDefaults

_REGISTRY: dict[str, Callable[[], NetSpec]] = {}
_TRAINING: dict[str, TrainingDefaults] = {}  # by registered name, for names with their own
_FAMILY_TRAINING: dict[str, TrainingDefaults] = {}
SPEC_FILE_LIMIT = 1 << 20  # bytes: a spec is a few kB; anything larger is not one
SpecSource = str | os.PathLike[str] | NetSpec


def normalize_name(name: str) -> str:
    """`EfficientNet_B0` -> `efficientnet-b0`: case-insensitive, underscores accepted."""
    return name.strip().lower().replace("_", "-")


_TAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def split_tag(name: str) -> tuple[str, str | None]:
    """`efficientnet-lite0.tf-in1k` -> (`efficientnet-lite0`, `tf-in1k`): a registered name with a weights tag, as
    timm's `arch.tag`; anything else (a plain name, a file such as `spec.json`) -> (name, None)."""
    base, dot, tag = name.strip().rpartition(".")
    if dot and normalize_name(base) in _REGISTRY and _TAG.match(tag.lower()) and tag.lower() != "json":
        return base, tag.lower()
    return name, None


def register(name: str, factory: Callable[[], NetSpec], training: TrainingDefaults | None = None) -> None:
    """Add a named spec factory (call it at import time of a family module), with the training defaults of that
    name when they differ from its family's (the official B1-B8 and Lite1-4 dropout)."""
    key = normalize_name(name)
    if key in _REGISTRY:
        raise ValueError(f"model {key!r} is registered twice")
    _REGISTRY[key] = factory
    if training is not None:
        _TRAINING[key] = training


def register_family(family: str, training: TrainingDefaults) -> None:
    """The training defaults of every spec of `family` (its `NetSpec.family`) that has none of its own: a scaled
    or searched network trains like its baseline unless told otherwise."""
    if family in _FAMILY_TRAINING:
        raise ValueError(f"family {family!r} is registered twice")
    _FAMILY_TRAINING[family] = training


def training_defaults(spec: NetSpec) -> TrainingDefaults:
    """What a spec trains with unless the recipe says otherwise: its registered name's defaults, else its family's,
    else `TrainingDefaults()` (EfficientNet-B0's)."""
    key = normalize_name(spec.name)
    if key in _TRAINING:
        return _TRAINING[key]
    return _FAMILY_TRAINING.get(spec.family, TrainingDefaults())


def stored_training(spec: NetSpec, stored: Any, spec_data: Any = None) -> TrainingDefaults:
    """The training defaults a file stored with a model: its "training" entry over the settings its spec dict
    `spec_data` held if it is of the old format (a file written before the entry existed), over
    `training_defaults(spec)`. Every value read is checked."""
    training = training_defaults(spec).replace(**legacy_training(spec_data))
    return training if stored is None else training.updated(stored)


def list_models(pattern: str = "") -> list[str]:
    """Registered model names containing `pattern`, sorted naturally (b2 before b10)."""

    def natural(key: str) -> list[object]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]

    return sorted((name for name in _REGISTRY if normalize_name(pattern) in name), key=natural)


def is_registered(name: object) -> bool:
    """True for a string that names a registered model (with or without a weights tag)."""
    return isinstance(name, str) and normalize_name(split_tag(name)[0]) in _REGISTRY


def get_spec(source: SpecSource) -> NetSpec:
    """A spec from a registered name, a spec JSON file (what `effnet info --json` prints, or any JSON object with
    a "spec" entry: `effnet scale --json`, a `save_pretrained` config.json, an experiment's output) or a
    `save_pretrained` folder; a clear error naming close matches otherwise."""
    if isinstance(source, NetSpec):
        return source
    if not isinstance(source, (str, os.PathLike)):
        raise UnknownModelError(f"model must be a name or a spec file, got {type(source).__name__}")
    text = os.fspath(source)
    if is_registered(text) and not Path(text).is_file():
        return registered_spec(split_tag(text)[0])
    path = Path(text)
    if path.is_dir() and (path / "config.json").is_file():
        return read_spec_file(path / "config.json")
    if path.is_file() or text.lower().endswith(".json"):
        return read_spec_file(path)
    raise unknown_model(text)


def registered_spec(name: str) -> NetSpec:
    """The spec a registered name's factory makes (the name without a weights tag); `unknown_model` otherwise."""
    factory = _REGISTRY.get(normalize_name(name))
    if factory is None:
        raise unknown_model(name)
    return factory()


def unknown_model(text: str) -> UnknownModelError:
    """The error for a name that is neither registered nor a spec file, naming close matches."""
    close = difflib.get_close_matches(normalize_name(text), list(_REGISTRY), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; `effnet models` lists them"
    return UnknownModelError(f"unknown model {text!r} (neither a registered name nor a spec file){hint}")


def read_spec_file(path: str | os.PathLike[str]) -> NetSpec:
    """Parse a spec JSON file; anything that is not one is a `SpecError` naming the file."""
    return read_model_file(path)[0]


def read_model_file(path: str | os.PathLike[str]) -> tuple[NetSpec, TrainingDefaults]:
    """A spec JSON file's spec and training defaults (`stored_training`: a "training" entry next to its "spec",
    or what an old-format spec held); anything that is not one is a `SpecError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise UnknownModelError(f"spec file not found: {path}")
    if not path.is_file():
        raise SpecError(f"{path} is not a regular file")
    if path.stat().st_size > SPEC_FILE_LIMIT:
        raise SpecError(f"{path} is {path.stat().st_size:,} bytes: too large to be a spec file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise SpecError(f"{path} is not a spec file (not valid JSON: {str(error).splitlines()[0][:80]})") from None
    stored = None
    if isinstance(data, dict) and isinstance(data.get("spec"), dict):
        stored = data.get("training")
        data = data["spec"]
    try:
        spec = NetSpec.from_dict(data)
        return spec, stored_training(spec, stored, data)
    except SpecError as error:
        raise SpecError(f"{path}: {error}") from None


__all__ = ["SPEC_FILE_LIMIT", "SpecSource", "get_spec", "is_registered", "list_models", "normalize_name",
           "read_model_file", "read_spec_file", "register", "register_family", "registered_spec", "split_tag",
           "stored_training", "training_defaults", "unknown_model"]
