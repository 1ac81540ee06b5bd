"""Named baseline specs. Each family lives in its own module and registers its names here."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from functools import partial

from ..spec import NetSpec, SpecError
from . import efficientnet as _efficientnet

_REGISTRY: dict[str, Callable[[], NetSpec]] = {}


class UnknownModelError(SpecError):
    """A model name that is not in the registry."""


def normalize_name(name: str) -> str:
    """`EfficientNet_B0` -> `efficientnet-b0`: case-insensitive, underscores accepted."""
    return name.strip().lower().replace("_", "-")


def register(name: str, factory: Callable[[], NetSpec]) -> None:
    """Add a named spec factory (call it at import time of a family module)."""
    key = normalize_name(name)
    if key in _REGISTRY:
        raise ValueError(f"model {key!r} is registered twice")
    _REGISTRY[key] = factory


def list_models(pattern: str = "") -> list[str]:
    """Registered model names containing `pattern`, sorted naturally (b2 before b10)."""
    import re

    def natural(key: str) -> list[object]:
        return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]

    return sorted((name for name in _REGISTRY if normalize_name(pattern) in name), key=natural)


def get_spec(name: str) -> NetSpec:
    """The spec registered under `name`; a clear error naming close matches otherwise."""
    if not isinstance(name, str):
        raise UnknownModelError(f"model name must be a string, got {type(name).__name__}")
    key = normalize_name(name)
    if key not in _REGISTRY:
        close = difflib.get_close_matches(key, list(_REGISTRY), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; `effnet models` lists them"
        raise UnknownModelError(f"unknown model {name!r}{hint}")
    return _REGISTRY[key]()


for _name in _efficientnet.OFFICIAL_COEFFICIENTS:
    register(_name, partial(_efficientnet.official, _name))
register("efficientnet", _efficientnet.efficientnet_b0)

# Baseline families (issue 3); importing effnet.blocks registers their stage operators.
from .. import blocks as _blocks  # noqa: E402, F401
from . import mnasnet, mobilenet_v1, mobilenet_v2, resnet, shufflenet, squeezenet, xception  # noqa: E402, F401

__all__ = ["UnknownModelError", "get_spec", "list_models", "normalize_name", "register"]
