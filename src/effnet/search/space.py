"""MnasNet's factorized hierarchical search space (Tan et al. 2019), as choices over a reference spec's stages.

Each stage of the reference network picks, independently of the others: its block (a regular conv, a
depthwise-separable conv, or MBConv with expansion 1, 3 or 6), kernel (3 or 5), squeeze-excitation (none or
0.25), skip (none or identity, for MBConv), output channels (a multiple of the reference stage's: 0.75, 1.0,
1.25) and layers (the reference's -1, 0 or +1). Stem, head and strides stay the reference's, so every point is a
valid `NetSpec` of the same shape. A point is written as a genotype, one token per stage, that round-trips:

    mbconv6-k5-se1-i-w1.25-d+1/conv-k3-se0-n-w1-d+0/...

(regular and depthwise-separable convs have no SE and no residual in effnet: their tokens always say se0, n)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..architecture.scaling import round_channels
from ..architecture.spec import NetSpec, SpecError, Stage
from ..errors import InputError

BLOCKS = ("conv", "dwsep", "mbconv1", "mbconv3", "mbconv6")
KERNELS = (3, 5)
SE_RATIOS = (0.0, 0.25)
SKIPS = ("none", "identity")
WIDTHS = (0.75, 1.0, 1.25)
DEPTHS = (-1, 0, 1)
_TOKEN = re.compile(r"^(conv|dwsep|mbconv\d+)-k(\d+)-se([01])-([ni])-w([0-9.]+)-d([+-]\d+)$")


@dataclass(frozen=True)
class StageChoice:
    """One stage's choices; `canonical()` drops what a block cannot have (SE and skip on plain convs)."""

    block: str
    kernel: int
    se: float
    skip: str
    width: float
    depth: int

    def canonical(self) -> StageChoice:
        if self.block in ("conv", "dwsep"):
            return StageChoice(self.block, self.kernel, 0.0, "none", self.width, self.depth)
        return self

    def token(self) -> str:
        c = self.canonical()
        return f"{c.block}-k{c.kernel}-se{int(c.se > 0)}-{c.skip[0]}-w{c.width:g}-d{c.depth:+d}"


@dataclass(frozen=True)
class SearchSpace:
    """The choices per stage and the reference network they perturb."""

    reference: NetSpec
    blocks: tuple[str, ...] = BLOCKS
    kernels: tuple[int, ...] = KERNELS
    se_ratios: tuple[float, ...] = SE_RATIOS
    skips: tuple[str, ...] = SKIPS
    widths: tuple[float, ...] = WIDTHS
    depths: tuple[int, ...] = DEPTHS
    se_value: float = field(default=0.25)

    def __post_init__(self) -> None:
        for name in ("blocks", "kernels", "se_ratios", "skips", "widths", "depths"):
            if not getattr(self, name):
                raise InputError(f"the search space is empty: no {name.replace('_', ' ')} to choose from")
        unknown = [b for b in self.blocks if b not in BLOCKS]
        if unknown:
            raise InputError(f"unknown block {unknown[0]!r}; the space has {', '.join(BLOCKS)}")
        if any(s not in SKIPS for s in self.skips) or any(k < 1 or k % 2 == 0 for k in self.kernels):
            raise InputError("skips must be none/identity and kernels odd positive integers")
        if any(not 0 < w <= 4 for w in self.widths) or any(abs(d) > 8 for d in self.depths):
            raise InputError("width multiples must be in (0, 4] and layer changes within +-8")
        outside = [f"stage {i + 1} ({s.encode()})" for i, s in enumerate(self.reference.stages)
                   if reference_choice(s) is None]
        if outside:
            raise InputError(f"the reference {self.reference.name} is not in the search space: {outside[0]} is "
                             "not a conv, depthwise-separable conv or MBConv stage")

    @property
    def stages(self) -> int:
        return len(self.reference.stages)

    def size(self) -> int:
        """How many distinct networks the space holds (after canonicalisation)."""
        mb = sum(b.startswith("mbconv") for b in self.blocks)
        plain = len(self.blocks) - mb
        per_block = len(self.kernels) * len(self.widths) * len(self.depths)
        per_stage = per_block * (plain + mb * len(self.se_ratios) * len(self.skips))
        return per_stage ** self.stages

    def choose(self, pick: Callable[[str, Sequence[Any]], Any]) -> tuple[StageChoice, ...]:
        """One point, each choice made by `pick(name, options)` (an Optuna trial's `suggest_categorical`)."""
        choices = []
        for i in range(self.stages):
            choices.append(StageChoice(pick(f"s{i}.block", self.blocks), int(pick(f"s{i}.kernel", self.kernels)),
                                       float(pick(f"s{i}.se", self.se_ratios)), pick(f"s{i}.skip", self.skips),
                                       float(pick(f"s{i}.width", self.widths)), int(pick(f"s{i}.depth", self.depths))
                                       ).canonical())
        return tuple(choices)

    def params(self, choices: Sequence[StageChoice]) -> dict[str, Any]:
        """The choices as the flat parameters `choose` reads (to enqueue a point)."""
        out: dict[str, Any] = {}
        for i, c in enumerate(choices):
            out.update({f"s{i}.block": c.block, f"s{i}.kernel": c.kernel, f"s{i}.se": c.se, f"s{i}.skip": c.skip,
                        f"s{i}.width": c.width, f"s{i}.depth": c.depth})
        return out

    def from_params(self, params: Mapping[str, Any]) -> tuple[StageChoice, ...]:
        return self.choose(lambda name, options: params[name])

    def encode(self, choices: Sequence[StageChoice]) -> str:
        """The genotype of a point."""
        if len(choices) != self.stages:
            raise InputError(f"a genotype of this space has {self.stages} stages, got {len(choices)}")
        return "/".join(choice.token() for choice in choices)

    def decode(self, genotype: str) -> tuple[StageChoice, ...]:
        """The point a genotype names; an error if it is malformed or outside this space."""
        tokens = genotype.strip().split("/")
        if len(tokens) != self.stages:
            raise InputError(f"genotype {genotype!r} has {len(tokens)} stages; this space has {self.stages}")
        choices = []
        for token in tokens:
            match = _TOKEN.match(token)
            if not match:
                raise InputError(f"cannot read genotype token {token!r}")
            block, kernel, se, skip, width, depth = match.groups()
            choice = StageChoice(block, int(kernel), self.se_value if se == "1" else 0.0,
                                 "identity" if skip == "i" else "none", float(width), int(depth))
            if (choice.block not in self.blocks or choice.kernel not in self.kernels or choice.width not in
                    self.widths or choice.depth not in self.depths or choice.skip not in self.skips or
                    choice.se not in self.se_ratios):
                raise InputError(f"genotype token {token!r} is outside this search space")
            choices.append(choice.canonical())
        return tuple(choices)

    def spec(self, choices: Sequence[StageChoice], name: str = "") -> NetSpec:
        """The network a point describes: the reference with its stages replaced."""
        ref = self.reference
        stages = []
        for stage, choice in zip(ref.stages, choices):
            channels = round_channels(stage.channels, choice.width, ref.width_divisor)
            repeats = max(1, stage.repeats + choice.depth)
            if choice.block.startswith("mbconv"):
                stages.append(Stage("mbconv", repeats, choice.kernel, stage.stride, channels,
                                    expand=float(choice.block[len("mbconv"):]), se=choice.se,
                                    skip=choice.skip == "identity"))
            else:
                stages.append(Stage(choice.block, repeats, choice.kernel, stage.stride, channels))
        try:
            return ref.replace(name=name or f"{ref.name}-searched", stages=tuple(stages), coefficients=(1.0, 1.0, 1.0))
        except SpecError as error:
            raise InputError(f"the point is not a valid network: {error}") from None

    def reference_point(self) -> tuple[StageChoice, ...] | None:
        """The reference itself as a point of the space (None when its settings are not among the choices)."""
        choices = tuple(reference_choice(stage) for stage in self.reference.stages)
        if any(c is None for c in choices):
            return None
        try:
            return self.decode("/".join(c.token() for c in choices))  # type: ignore[union-attr]
        except InputError:
            return None

    def cheapest(self) -> tuple[StageChoice, ...]:
        """The point with the fewest multiply-adds in each stage's own terms: the narrowest, shallowest, cheapest
        block and smallest kernel, no SE."""
        order = ("dwsep", "mbconv1", "conv", "mbconv3", "mbconv6")
        block = min(self.blocks, key=order.index)
        return tuple(StageChoice(block, min(self.kernels), min(self.se_ratios), self.skips[0], min(self.widths),
                                 min(self.depths)).canonical() for _ in range(self.stages))


def reference_choice(stage: Stage) -> StageChoice | None:
    """A reference stage as choices (width 1, depth +0); None for operators outside the space."""
    if stage.op == "mbconv":
        expand = stage.expand
        if not float(expand).is_integer():
            return None
        return StageChoice(f"mbconv{int(expand)}", stage.kernel, stage.se, "identity" if stage.skip else "none",
                           1.0, 0).canonical()
    if stage.op in ("conv", "dwsep") and stage.groups == 1:
        return StageChoice(stage.op, stage.kernel, 0.0, "none", 1.0, 0)
    return None


def reward(accuracy: float, cost: float, target: float, w: float = -0.07) -> float:
    """The paper's (and MnasNet's) reward ACC(m) x [cost(m) / T]^w, accuracy as a fraction in [0, 1]."""
    if not (cost > 0 and target > 0 and math.isfinite(w)):
        raise InputError(f"reward needs a positive cost and target, got {cost!r} and {target!r}")
    return accuracy * (cost / target) ** w


__all__ = ["BLOCKS", "DEPTHS", "KERNELS", "SE_RATIOS", "SKIPS", "WIDTHS", "SearchSpace", "StageChoice",
           "reference_choice", "reward"]
