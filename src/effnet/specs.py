"""Model sources -> specs: whatever `effnet.source.resolve_source` accepts that has an architecture (a registered
name, a spec file or `NetSpec`, a `save_pretrained` folder, a trainer checkpoint), then scaled (paper Eq. 2-3) and
with spec fields overridden. Options whose value is None count as not given."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from .scaling import ALPHA, BETA, GAMMA, scale_spec
from .source import SourceLike, spec_of
from .spec import NetSpec, SpecError

SCALE_KEYS = ("phi", "depth", "width", "resolution", "image_size", "alpha", "beta", "gamma", "fix_stem_head",
              "fix_first_last_depth")
SPEC_KEYS = frozenset(f.name for f in fields(NetSpec)) - {"name", "stem", "stages", "head"}
# Fields that change what a network computes but not the shapes of its weights: the only ones that may be set on
# an architecture that arrives with its weights (a trained run, a save_pretrained folder).
WEIGHT_NEUTRAL_KEYS = frozenset({"dropout", "drop_path", "bn_eps", "bn_momentum", "padding", "act"})


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The options that were actually given (None means "not given", as an argparse default does)."""
    return {key: value for key, value in options.items() if value is not None}


def check_options(options: dict[str, Any]) -> None:
    unknown = set(options) - set(SCALE_KEYS) - SPEC_KEYS
    if unknown:
        raise SpecError(f"unknown model option(s): {', '.join(sorted(unknown))}")


def resolve_spec(source: SourceLike, **options: Any) -> NetSpec:
    """A spec from a registered name, a spec file, a spec, a saved folder or a trainer checkpoint, then scaled
    (`phi`, `depth`, `width`, `resolution`, `image_size`, ...) and with spec fields overridden (`bn_eps`, `padding`,
    `act`, `dropout`, `drop_path`, ...)."""
    options = given(options)
    check_options(options)
    return apply_options(spec_of(source), options)


def apply_options(spec: NetSpec, options: dict[str, Any]) -> NetSpec:
    """`spec` scaled by the scaling keywords among `options` and with the other given fields overridden: what
    `resolve_spec` does to a spec already resolved."""
    options = given(options)
    check_options(options)
    scaling = {key: options.pop(key) for key in SCALE_KEYS if key in options}
    if scaling:
        spec = scale_spec(spec, **scaling)
    return spec.replace(**options) if options else spec


def scale(source: SourceLike, *, phi: float | None = None, depth: float = 1.0, width: float = 1.0,
          resolution: float = 1.0, image_size: int | None = None, alpha: float = ALPHA, beta: float = BETA,
          gamma: float = GAMMA, **options: Any) -> NetSpec:
    """Paper Eq. 2 (or Eq. 3 with `phi`) on a model name, spec file or spec: see `effnet.scaling.scale_spec`."""
    return scale_spec(spec_of(source), phi=phi, depth=depth, width=width, resolution=resolution,
                      image_size=image_size, alpha=alpha, beta=beta, gamma=gamma, **options)


__all__ = ["SCALE_KEYS", "SPEC_KEYS", "WEIGHT_NEUTRAL_KEYS", "apply_options", "check_options", "given", "resolve_spec",
           "scale"]
