"""Solve for the scaling coefficient that hits a MACs budget, so scaling methods can be compared at equal
FLOPS (paper Fig. 3 / Table 7): compound (phi), depth (d), width (w) or resolution (r) alone."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from .profiling import analyze
from .scaling import scale_spec
from .spec import NetSpec, SpecError
from .zoo import SpecSource, get_spec

METHODS = ("compound", "depth", "width", "resolution")
# Search interval of each method's coefficient (phi is additive; the others are multipliers).
_RANGES = {"compound": (-8.0, 16.0), "depth": (1e-3, 64.0), "width": (1e-2, 16.0), "resolution": (1e-2, 16.0)}
_SUFFIX = {"k": 1e3, "m": 1e6, "g": 1e9, "b": 1e9, "t": 1e12}


@dataclass(frozen=True)
class BudgetFit:
    """The scaled spec closest to the budget and how it was found."""

    spec: NetSpec
    method: str
    coefficient: float  # phi for "compound", the multiplier otherwise
    macs: int
    target: float
    base_macs: int

    @property
    def error(self) -> float:
        """Relative distance of the achieved MACs from the target."""
        return self.macs / self.target - 1.0


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


def _scaler(spec: NetSpec, method: str) -> Callable[[float], NetSpec]:
    if method == "compound":
        return lambda c: scale_spec(spec, phi=c)
    return lambda c: scale_spec(spec, **{method: c})


def fit_budget(spec: SpecSource, target_macs: float | str, method: str = "compound") -> BudgetFit:
    """Scale `spec` by one method so its MACs are as close as possible to `target_macs` (absolute MACs, or a
    string such as "2x" relative to the baseline). Bisection on the coefficient; rounding of channels, repeats
    and pixels makes MACs a step function, so the nearer of the two boundary steps is returned."""
    spec = get_spec(spec)
    if method not in METHODS:
        raise SpecError(f"unknown scaling method {method!r}; choose from {', '.join(METHODS)}")
    base = analyze(spec).macs
    target = parse_budget(target_macs, base)
    make = _scaler(spec, method)
    additive = method == "compound"
    lo, hi = _RANGES[method]
    to_t = (lambda c: c) if additive else math.log
    from_t = (lambda t: t) if additive else math.exp

    def macs(t: float) -> int | None:
        try:
            return analyze(make(from_t(t))).macs
        except SpecError:  # too small to build (resolution below the network's total stride, ...)
            return None

    t_lo, t_hi, t_base = to_t(lo), to_t(hi), to_t(0.0 if additive else 1.0)
    if macs(t_lo) is None:  # find the smallest buildable coefficient between lo and the baseline
        bad, good = t_lo, t_base
        for _ in range(40):
            mid = (bad + good) / 2
            bad, good = (bad, mid) if macs(mid) is not None else (mid, good)
        t_lo = good
    smallest, largest = macs(t_lo), macs(t_hi)
    if smallest is None or target < smallest:
        raise SpecError(f"budget {target / 1e9:.4g} GMACs is below the smallest buildable {spec.name} by "
                        f"{method} scaling ({(smallest or 0) / 1e9:.4g} GMACs)")
    if largest is None or target > largest:
        raise SpecError(f"budget {target / 1e9:.4g} GMACs is above what {method} scaling reaches within "
                        f"coefficient {hi:g} ({(largest or 0) / 1e9:.4g} GMACs)")
    for _ in range(60):
        mid = (t_lo + t_hi) / 2
        value = macs(mid)
        if value is not None and value <= target:
            t_lo = mid
        else:
            t_hi = mid
    below, above = macs(t_lo) or 0, macs(t_hi) or 0
    t = t_lo if abs(below - target) <= abs(above - target) else t_hi
    coefficient = from_t(t)
    scaled = make(coefficient)
    return BudgetFit(scaled, method, coefficient, analyze(scaled).macs, target, base)
