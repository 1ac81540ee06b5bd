"""Solve for the scaling coefficient that hits a MACs budget, so scaling methods can be compared at equal
FLOPS (paper Fig. 3 / Table 7): compound (phi), depth (d), width (w) or resolution (r) alone."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from .profiling import analyze
from .scaling import ALPHA, BETA, GAMMA, scale_spec
from .spec import NetSpec, SpecError
from .zoo import SpecSource, get_spec

METHODS = ("compound", "depth", "width", "resolution")
# Search interval of each method's coefficient (phi is additive; the others are multipliers).
_RANGES = {"compound": (-8.0, 16.0), "depth": (1e-3, 64.0), "width": (1e-2, 16.0), "resolution": (1e-2, 16.0)}
_SUFFIX = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}


@dataclass(frozen=True)
class BudgetFit:
    """The scaled spec closest to the budget and how it was found. `target`, `cost` and `base_cost` are in the
    budget's metric (MACs by default, or whatever the `cost` function measured, e.g. milliseconds)."""

    spec: NetSpec
    method: str
    coefficient: float  # phi for "compound", the multiplier otherwise
    macs: int
    target: float
    base_macs: int
    cost: float = 0.0
    base_cost: float = 0.0
    metric: str = "macs"

    @property
    def error(self) -> float:
        """Relative distance of the achieved cost from the target."""
        achieved = self.cost if self.metric != "macs" else self.macs
        return achieved / self.target - 1.0


def parse_budget(text: str | float, base_macs: int) -> float:
    """`2x` (times the baseline), `1.8G`/`400M`/`1.8e9` (absolute MACs) or a number -> MACs."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[+-]?\d+)?)\s*([xkmgbt]?)\s*", str(text).lower())
        if not match:
            raise SpecError(f"cannot read MACs budget {text!r}; use e.g. 2x, 1.8G, 400M or 1.8e9")
        number, suffix = float(match.group(1)), match.group(2)
        value = number * base_macs if suffix == "x" else number * _SUFFIX.get(suffix, 1.0)
    if not (math.isfinite(value) and value > 0):
        raise SpecError(f"MACs budget must be a positive number, got {text!r}")
    return value


def _scaler(spec: NetSpec, method: str, alpha: float, beta: float, gamma: float,
            repeat_rounding: str = "ceil") -> Callable[[float], NetSpec]:
    if method == "compound":
        return lambda c: scale_spec(spec, phi=c, alpha=alpha, beta=beta, gamma=gamma, repeat_rounding=repeat_rounding)
    return lambda c: scale_spec(spec, **{method: c}, repeat_rounding=repeat_rounding)


def fit_budget(spec: SpecSource, target_macs: float | str, method: str = "compound", *,
               alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA,
               cost: Callable[[NetSpec], float] | None = None, metric: str = "macs",
               num_classes: int = 1000, repeat_rounding: str = "ceil") -> BudgetFit:
    """Scale `spec` by one method so its MACs are as close as possible to `target_macs` (absolute MACs, or a
    string such as "2x" relative to the baseline). Bisection on the coefficient; rounding of channels, repeats
    and pixels makes MACs a step function, so the nearer of the two boundary steps is returned.

    `cost` replaces MACs by another measure of a spec (e.g. measured latency in ms, `metric="latency"`); the
    target is then in that measure ("2x" still means twice the baseline's). MACs are counted with a classifier of
    `num_classes` outputs (the task's, for small networks whose head is a sizeable share); `repeat_rounding` is the
    rule for scaled repeats (`round_repeats`)."""
    spec = get_spec(spec)
    if method not in METHODS:
        raise SpecError(f"unknown scaling method {method!r}; choose from {', '.join(METHODS)}")
    def macs(candidate: NetSpec) -> float:
        return float(analyze(candidate, num_classes=num_classes).macs)

    measure = cost or macs
    base = measure(spec)
    target = parse_budget(target_macs, base)
    make = _scaler(spec, method, alpha, beta, gamma, repeat_rounding)
    additive = method == "compound"
    lo, hi = _RANGES[method]
    to_t = (lambda c: c) if additive else math.log
    from_t = (lambda t: t) if additive else math.exp
    seen: dict[float, float | None] = {}

    def value(t: float) -> float | None:
        if t not in seen:
            try:
                seen[t] = measure(make(from_t(t)))
            except SpecError:  # too small to build (resolution below the network's total stride, ...)
                seen[t] = None
        return seen[t]

    t_lo, t_hi, t_base = to_t(lo), to_t(hi), to_t(0.0 if additive else 1.0)
    if value(t_lo) is None:  # find the smallest buildable coefficient between lo and the baseline
        bad, good = t_lo, t_base
        for _ in range(40):
            mid = (bad + good) / 2
            bad, good = (bad, mid) if value(mid) is not None else (mid, good)
        t_lo = good
    if value(t_hi) is None:  # and the largest one the limits allow
        good, bad = t_base, t_hi
        for _ in range(40):
            mid = (bad + good) / 2
            good, bad = (mid, bad) if value(mid) is not None else (good, mid)
        t_hi = good
    smallest, largest = value(t_lo), value(t_hi)
    unit = "GMACs" if metric == "macs" else metric
    show = (lambda v: f"{v / 1e9:.4g} {unit}") if metric == "macs" else (lambda v: f"{v:.4g} {unit}")
    if smallest is None or target < smallest:
        raise SpecError(f"budget {show(target)} is below the smallest buildable {spec.name} by {method} scaling "
                        f"({show(smallest or 0)})")
    if largest is None or target > largest:
        raise SpecError(f"budget {show(target)} is above what {method} scaling of {spec.name} reaches within its "
                        f"limits ({show(largest or 0)})")
    steps = 60 if cost is None else 14  # a measured cost is noisy and slow: fewer, coarser steps
    for _ in range(steps):
        mid = (t_lo + t_hi) / 2
        got = value(mid)
        if got is not None and got <= target:
            t_lo = mid
        else:
            t_hi = mid
    below, above = value(t_lo) or 0.0, value(t_hi) or 0.0
    t = t_lo if abs(below - target) <= abs(above - target) else t_hi
    coefficient = from_t(t)
    scaled = make(coefficient)
    return BudgetFit(scaled, method, coefficient, analyze(scaled, num_classes=num_classes).macs, target,
                     analyze(spec, num_classes=num_classes).macs,
                     cost=value(t) or 0.0, base_cost=base, metric=metric)
