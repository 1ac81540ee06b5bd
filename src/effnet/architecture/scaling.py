"""Paper Eq. 2-3: scale a spec's depth (repeats), width (channels) and resolution, with the standard rounding.

Rounding rules (shared with timm/torchvision/the TF reference so that scaled models are weight-compatible):
- channels: `round_channels` -- nearest multiple of 8, never more than 10% below the exact value;
- repeats: `round_repeats` -- ceil(depth * repeats) (the paper's; `nearest` rounds instead, so that a small
  depth coefficient does not turn every single-block stage into two);
- resolution: `round_resolution` -- nearest multiple of the spec's `resolution_divisor` (4 pixels: the official B1-B7
  sizes are multiples of 4; the small-image baseline uses whole pixels).
"""

from __future__ import annotations

import math
import warnings

from .spec import NetSpec, SpecError, Stage

ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15  # paper Section 3.3, found by the Step 1 grid search
MIN_MULTIPLIER, MAX_MULTIPLIER = 1e-4, 1e4  # far outside any buildable network; refused before any rounding


class ScalingWarning(UserWarning):
    """Scaling that will not do what was asked: coefficients that break the paper's alpha * beta^2 * gamma^2 ~= 2
    constraint, or a budget that rounding lets a method reach only far off."""


def compound(phi: float, alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA,
             *, tolerance: float = 0.1) -> tuple[float, float, float]:
    """Eq. 3: (depth, width, resolution) = (alpha^phi, beta^phi, gamma^phi) for any real phi.

    Warns when alpha * beta^2 * gamma^2 is more than `tolerance` (relative) away from 2, since then
    FLOPS no longer grow by about 2^phi."""
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if not value > 0 or math.isinf(value):
            raise SpecError(f"{name} must be a positive finite number, got {value}")
    if not math.isfinite(phi):
        raise SpecError(f"phi must be finite, got {phi}")
    try:
        coefficients = (alpha**phi, beta**phi, gamma**phi)
    except OverflowError:
        raise SpecError(f"phi = {phi:g} overflows the scaling coefficients") from None
    if not all(MIN_MULTIPLIER <= c <= MAX_MULTIPLIER for c in coefficients):
        raise SpecError(f"phi = {phi:g} gives multipliers {tuple(float(f'{c:.6g}') for c in coefficients)}, "
                        f"outside [{MIN_MULTIPLIER:g}, {MAX_MULTIPLIER:g}]")
    product = alpha * beta**2 * gamma**2  # warned about only for coefficients that are usable at all
    if abs(product - 2.0) > tolerance * 2.0:
        warnings.warn(
            f"alpha * beta^2 * gamma^2 = {product:.4g}, far from 2: FLOPS will grow by {product:.4g}^phi",
            ScalingWarning, stacklevel=2)
    return coefficients


def round_channels(channels: int, width: float = 1.0, divisor: int = 8, min_value: int | None = None) -> int:
    """Scale `channels` by `width`, round to a multiple of `divisor`, never more than 10% down."""
    if width == 1.0:
        return channels
    exact = channels * width
    floor = min_value or divisor
    rounded = max(floor, int(exact + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * exact:
        rounded += divisor
    return int(rounded)


REPEAT_ROUNDINGS = ("ceil", "nearest")


def round_repeats(repeats: int, depth: float = 1.0, rounding: str = "ceil") -> int:
    """Scale a stage's layer count: ceil(depth * repeats) (the paper's rule) or the nearest whole number (halves
    up), at least 1."""
    exact = round(depth * repeats, 9)
    if rounding == "nearest":
        return max(1, int(math.floor(exact + 0.5)))
    if rounding != "ceil":
        raise SpecError(f"repeat rounding must be one of {', '.join(REPEAT_ROUNDINGS)}, got {rounding!r}")
    return max(1, int(math.ceil(exact)))


def round_resolution(resolution: int, factor: float = 1.0, divisor: int = 4) -> int:
    """Scale the input size and round to the nearest multiple of `divisor` (at least `divisor`)."""
    if factor == 1.0:
        return resolution
    return max(divisor, int(round(resolution * factor / divisor)) * divisor)


def dropout_for_phi(phi: float) -> float:
    """Classifier dropout for training a compound model: linear from 0.2 (phi=0, B0) to 0.5 (phi=7, B7), as the
    paper prescribes, clipped to [0.2, 0.5]. A training default of the scaled model, not a spec field."""
    return round(min(0.5, max(0.2, 0.2 + 0.3 * phi / 7.0)), 4)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                and value > 0):
            raise SpecError(f"{name} coefficient must be a positive number, got {value!r}")
        if not MIN_MULTIPLIER <= value <= MAX_MULTIPLIER:
            raise SpecError(f"{name} coefficient {value:g} is outside [{MIN_MULTIPLIER:g}, {MAX_MULTIPLIER:g}]")


def scale_spec(spec: NetSpec, *, phi: float | None = None, depth: float = 1.0, width: float = 1.0,
          resolution: float = 1.0, image_size: int | None = None,
          alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA,
          fix_stem_head: bool | None = None, fix_first_last_depth: bool | None = None,
          name: str | None = None, repeat_rounding: str = "ceil") -> NetSpec:
    """Eq. 2: a new spec with repeats x depth, channels x width and input size x resolution.

    With `phi`, the multipliers come from `compound(phi, alpha, beta, gamma)` (Eq. 3). `image_size` sets the
    input size in pixels instead of a multiplier (how the official B1-B7 table is written). The operators
    F_i never change. Lite rules: `fix_stem_head` keeps stem/head channels, `fix_first_last_depth` keeps the
    first and last stage's repeats (defaults come from the spec). `repeat_rounding` is `round_repeats`' rule."""
    if not isinstance(spec, NetSpec):
        raise SpecError(f"scale_spec() needs a NetSpec, got {type(spec).__name__} (effnet.scale takes names too)")
    if phi is None and (alpha, beta, gamma) != (ALPHA, BETA, GAMMA):
        raise SpecError("alpha, beta and gamma are the bases of phi (Eq. 3); they need phi")
    if phi is not None:
        if (depth, width, resolution) != (1.0, 1.0, 1.0):
            raise SpecError("pass either phi or explicit depth/width/resolution multipliers, not both")
        depth, width, resolution = compound(phi, alpha, beta, gamma)
    _check_positive(depth=depth, width=width, resolution=resolution)
    if image_size is not None and (not isinstance(image_size, int) or image_size < 8):
        raise SpecError(f"image_size must be an integer >= 8, got {image_size!r}")
    fix_ends = spec.fix_stem_head if fix_stem_head is None else fix_stem_head
    fix_depth = spec.fix_first_last_depth if fix_first_last_depth is None else fix_first_last_depth
    divisor = spec.width_divisor

    def widen(stage: Stage, fixed: bool = False) -> Stage:
        return stage if fixed else stage.replace_channels(round_channels(stage.channels, width, divisor))

    last = len(spec.stages) - 1
    stages = tuple(
        widen(stage).replace_repeats(
            stage.repeats if fix_depth and index in (0, last) else round_repeats(stage.repeats, depth,
                                                                                  repeat_rounding))
        for index, stage in enumerate(spec.stages))
    new_size = image_size or round_resolution(spec.resolution, resolution, spec.resolution_divisor)
    d0, w0, r0 = spec.coefficients
    return spec.replace(
        name=name or _scaled_name(spec.name, depth, width, new_size / spec.resolution),
        stem=widen(spec.stem, fix_ends),
        stages=stages,
        head=widen(spec.head, fix_ends) if spec.head else None,
        resolution=new_size,
        fix_stem_head=fix_ends,
        fix_first_last_depth=fix_depth,
        coefficients=(round(d0 * depth, 6), round(w0 * width, 6), round(r0 * new_size / spec.resolution, 6)),
    )


def effective_coefficients(spec: NetSpec, baseline: NetSpec) -> dict[str, float]:
    """The real (depth, width, resolution) of a scaled spec against its baseline, after rounding: the ratio of
    their blocks, of their channels (summed over stem, stages and head) and of their input sizes. Nominal
    coefficients say what was asked for; these say what was built (ceil turns d = 1.12 into 1.44x the blocks of
    B0-small, whose single-block stages become two)."""
    def channels(net: NetSpec) -> int:
        return sum(stage.channels for stage in (net.stem, *net.stages, *((net.head,) if net.head else ())))

    return {"depth": round(spec.num_blocks / baseline.num_blocks, 4),
            "width": round(channels(spec) / channels(baseline), 4),
            "resolution": round(spec.resolution / baseline.resolution, 4)}


def _scaled_name(base: str, depth: float, width: float, resolution: float) -> str:
    if (depth, width, resolution) == (1.0, 1.0, 1.0):
        return base
    return f"{base}-d{depth:.3g}-w{width:.3g}-r{resolution:.3g}"
