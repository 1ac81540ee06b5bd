"""The checkpoint naming registry: for each library's way of naming a model's tensors (effnet's own, timm,
torchvision, efficientnet_pytorch), how its state dicts are recognised and how its keys map onto an effnet model's.

Registered like stage operators (`effnet.architecture.operators`); `detect_naming` is the one place a state dict's
naming is decided, by asking every adapter. The built-in adapters live beside this module, one file per naming, and
`effnet.hub.adapters` imports them all, so importing any part of the package registers every one of them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from ...errors import WeightsError

Mapper = Callable[[nn.Module], dict[str, str]]
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Renamed:
    """A state dict under effnet's keys for one model, and what the naming could not place."""

    tensors: dict[str, torch.Tensor]
    missing: list[str] = field(default_factory=list)  # effnet keys the naming maps that the state dict lacks
    unused: list[str] = field(default_factory=list)  # state dict keys the naming does not map
    head: frozenset[str] = frozenset()  # the state dict's keys for the classifier (optional when a model has none)


@dataclass(frozen=True)
class NamingAdapter:
    """One checkpoint naming: `names(model)` is {effnet key: key in this naming}; a state dict holding one of
    `markers` is in this naming, and, failing every adapter's markers, one with a key starting with one of
    `prefixes` is."""

    name: str
    names: Mapper
    markers: tuple[str, ...]
    prefixes: tuple[str, ...] = ()

    def marked(self, state: Mapping[str, torch.Tensor]) -> bool:
        """Whether the state dict holds one of this naming's marker keys (a sure sign)."""
        return any(key in state for key in self.markers)

    def prefixed(self, state: Mapping[str, torch.Tensor]) -> bool:
        """Whether a key starts with one of this naming's prefixes (the weaker sign, asked after every marker)."""
        return bool(self.prefixes) and any(key.startswith(self.prefixes) for key in state)

    def rename(self, model: nn.Module, state: Mapping[str, torch.Tensor]) -> Renamed:
        """The state dict under `model`'s effnet keys, with what is missing from it and what it holds unused."""
        names = self.names(model)
        used = set(names.values())
        return Renamed({ours: state[theirs] for ours, theirs in names.items() if theirs in state},
                       [ours for ours, theirs in names.items() if theirs not in state],
                       [key for key in state if key not in used],
                       frozenset(theirs for ours, theirs in names.items() if ours.startswith("classifier.")))


_NAMINGS: dict[str, NamingAdapter] = {}


def register_naming(name: str, *, names: Mapper, markers: Sequence[str] = (), prefixes: Sequence[str] = (),
                    replace: bool = False) -> NamingAdapter:
    """Make checkpoints in naming `name` loadable: `names(model)` maps each effnet key of `model` to this naming's
    key, and `markers` (keys only this naming has) or `prefixes` let `detect_naming` recognise it.

    Detection asks adapters in registration order. Registering a taken name is an error unless `replace=True`."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise WeightsError(f"naming {name!r} must be lowercase letters, digits and underscores, starting with a "
                           "letter")
    if not callable(names):
        raise WeightsError(f"naming {name!r} needs a callable names(model) -> {{effnet key: its key}}")
    markers, prefixes = _keys(name, "markers", markers), _keys(name, "prefixes", prefixes)
    if not (markers or prefixes):
        raise WeightsError(f"naming {name!r} needs marker keys or key prefixes to be recognised by")
    if name in _NAMINGS and not replace:
        raise WeightsError(f"naming {name!r} is already registered; pass replace=True to redefine it")
    adapter = NamingAdapter(name, names, markers, prefixes)
    _NAMINGS[name] = adapter
    return adapter


def _keys(name: str, what: str, keys: Sequence[str]) -> tuple[str, ...]:
    if isinstance(keys, str) or not all(isinstance(key, str) and key for key in keys):
        raise WeightsError(f"naming {name!r}: {what} must be a sequence of non-empty keys")
    return tuple(keys)


def unregister_naming(name: str) -> NamingAdapter:
    """Remove a naming (a test's or a plugin's) and return it, so that it can be registered again."""
    adapter = get_naming(name)
    del _NAMINGS[name]
    return adapter


def get_naming(name: str) -> NamingAdapter:
    """The registered naming `name`; a `WeightsError` listing the known ones otherwise."""
    if name not in _NAMINGS:
        raise WeightsError(f"unknown checkpoint format {name!r}; known: {', '.join(_NAMINGS)}")
    return _NAMINGS[name]


def list_namings() -> list[str]:
    """Names of every registered naming, in the order detection asks them."""
    return list(_NAMINGS)


def detect_naming(state: Mapping[str, torch.Tensor]) -> str:
    """Which registered naming a state dict uses: the first adapter whose marker key it holds, else the first whose
    key prefix it uses; a one-line `WeightsError` naming every registered naming otherwise."""
    for adapter in _NAMINGS.values():
        if adapter.marked(state):
            return adapter.name
    for adapter in _NAMINGS.values():
        if adapter.prefixed(state):
            return adapter.name
    known = list(_NAMINGS)
    expected = f"{', '.join(known[:-1])} or {known[-1]}" if len(known) > 1 else "".join(known)
    sample = ", ".join(list(state)[:3])
    raise WeightsError(f"unrecognised checkpoint layout (first keys: {sample}); expected {expected} naming")


def foreign_names(model: nn.Module, naming: str) -> dict[str, str]:
    """{effnet key: key in `naming`} for `model`, e.g. to save an effnet model in another library's naming."""
    return get_naming(naming).names(model)


def to_effnet_names(model: nn.Module, state: Mapping[str, torch.Tensor], naming: str | None = None) -> Renamed:
    """A state dict in `naming` (detected when None) renamed to `model`'s effnet keys."""
    return get_naming(naming or detect_naming(state)).rename(model, state)


__all__ = ["Mapper", "NamingAdapter", "Renamed", "detect_naming", "foreign_names", "get_naming", "list_namings",
           "register_naming", "to_effnet_names", "unregister_naming"]
