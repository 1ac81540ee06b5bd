"""The operator registry: for each stage operator F_i (paper Eq. 1), its module builder and its analytic cost
formula, registered together so that every operator a spec can name can be both built and profiled.

`build` and `profiling` both read this registry; the built-in operators live in `effnet.architecture.blocks`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from .cost import Site, Tally
from .layers import NormFactory
from .spec import SpecError, Stage


@dataclass(frozen=True)
class BlockContext:
    """What a block builder needs besides its stage row."""

    in_ch: int
    stride: int
    drop_path: float
    act: str
    norm: NormFactory
    padding: str


Builder = Callable[[Stage, BlockContext], nn.Module]
Counter = Callable[[Stage, Site, Tally], int]
Reduction = Callable[[Stage, int], int]


@dataclass(frozen=True)
class Operator:
    """One stage operator: `build(stage, ctx)` makes a block, `count(stage, site, tally)` adds its cost and returns
    its output size, `reduction(stage, stride)` is how much one block shrinks the feature map (its stride unless
    the operator also pools)."""

    name: str
    build: Builder
    count: Counter
    reduction: Reduction

    def stride_of(self, stage: Stage, stride: int) -> int:
        return int(self.reduction(stage, stride))


_OPERATORS: dict[str, Operator] = {}


def _same_stride(stage: Stage, stride: int) -> int:
    return stride


def register_operator(name: str, *, build: Builder, count: Counter, reduction: Reduction | None = None,
                      replace: bool = False) -> Operator:
    """Make `name` usable in stage rows: its module builder and its cost formula, together.

    `reduction(stage, stride)` is only needed when a block shrinks the map by more than its stride (a pool inside
    it); feature taps (`feature_info`) follow it. Registering a taken name is an error unless `replace=True`."""
    if not isinstance(name, str) or not name.isalnum() or not name.islower() or not name[0].isalpha():
        raise SpecError(f"operator name {name!r} must be lowercase letters and digits, starting with a letter")
    if not (callable(build) and callable(count)):
        raise SpecError(f"operator {name!r} needs a callable build and a callable count")
    if name in _OPERATORS and not replace:
        raise SpecError(f"operator {name!r} is already registered; pass replace=True to redefine it")
    operator = Operator(name, build, count, reduction or _same_stride)
    _OPERATORS[name] = operator
    return operator


def get_operator(name: str) -> Operator:
    """The registered operator `name`; a `SpecError` listing the known ones otherwise."""
    if name not in _OPERATORS:
        raise SpecError(f"no operator {name!r} is registered; known: {', '.join(sorted(_OPERATORS))} "
                        "(add one with effnet.register_operator)")
    return _OPERATORS[name]


def list_operators() -> list[str]:
    """Names of every registered operator."""
    return sorted(_OPERATORS)


__all__ = ["BlockContext", "Builder", "Counter", "NormFactory", "Operator", "get_operator", "list_operators",
           "register_operator"]
