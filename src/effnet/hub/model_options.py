"""Model sources -> specs and training defaults: whatever `effnet.hub.source.resolve_source` accepts that has an
architecture (a registered name, a spec file or `NetSpec`, a `save_pretrained` folder, a trainer checkpoint), then
scaled (paper Eq. 2-3), with spec fields overridden, and with its training settings. The model keywords
(`load_model(**options)`) are sorted once into these three typed groups (`ModelOptions`); None means not given."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from ..architecture.scaling import ALPHA, BETA, GAMMA, dropout_for_phi, scale_spec
from ..architecture.spec import NetSpec, SpecError
from ..architecture.training_defaults import TRAINING_FIELDS, TrainingDefaults
from .source import SourceLike, resolve_source, spec_of

SCALE_KEYS = ("phi", "depth", "width", "resolution", "image_size", "alpha", "beta", "gamma", "fix_stem_head",
              "fix_first_last_depth", "repeat_rounding")
SPEC_KEYS = frozenset(f.name for f in fields(NetSpec)) - {"name", "stem", "stages", "head"}
TRAINING_KEYS = frozenset(TRAINING_FIELDS)
# Spec fields that change what a network computes but not the shapes of its weights: the only ones that may be set on
# an architecture that arrives with its weights (a trained run, a save_pretrained folder).
WEIGHT_NEUTRAL_KEYS = frozenset({"bn_eps", "padding", "act"})


def given(options: dict[str, Any]) -> dict[str, Any]:
    """The options that were actually given (None means "not given", as an argparse default does)."""
    return {key: value for key, value in options.items() if value is not None}


@dataclass(frozen=True)
class ModelOptions:
    """Model keywords in their groups: `scaling` (`scale_spec`'s: phi, depth, width, ...), `fields` (spec fields
    such as padding, bn_eps, act) and `training` (dropout, drop_path, bn_momentum: the model's training settings,
    never the spec's). Only options that were given are held."""

    scaling: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, options: dict[str, Any]) -> ModelOptions:
        """Sort `options` (None = not given) into groups; a `SpecError` naming any unknown one."""
        options = given(options)
        unknown = set(options) - set(SCALE_KEYS) - SPEC_KEYS - TRAINING_KEYS
        if unknown:
            raise SpecError(f"unknown model option(s): {', '.join(sorted(unknown))}")
        return cls({k: v for k, v in options.items() if k in SCALE_KEYS},
                   {k: v for k, v in options.items() if k in SPEC_KEYS},
                   {k: v for k, v in options.items() if k in TRAINING_KEYS})

    @property
    def shaping(self) -> list[str]:
        """The given options that may change the shapes of the weights."""
        return sorted({*self.scaling, *(set(self.fields) - WEIGHT_NEUTRAL_KEYS)})

    def spec(self, spec: NetSpec) -> NetSpec:
        """`spec` scaled by the scaling options and with the given fields overridden."""
        if self.scaling:
            spec = scale_spec(spec, **self.scaling)
        return spec.replace(**self.fields) if self.fields else spec

    def training_defaults(self, defaults: TrainingDefaults, spec: NetSpec) -> TrainingDefaults:
        """The training defaults of the model these options make of `spec`, whose own are `defaults`: compound
        scaling of an EfficientNet sets the dropout for its phi (`dropout_for_phi`), and given settings win."""
        phi = self.scaling.get("phi")
        if phi is not None and spec.family == "efficientnet":
            defaults = defaults.replace(dropout=dropout_for_phi(phi))
        return defaults.replace(**self.training)


def no_training(options: dict[str, Any]) -> None:
    """A `SpecError` for training settings among `options` given where a spec is asked for: a spec holds none."""
    names = sorted(set(given(options)) & TRAINING_KEYS)
    if names:
        raise SpecError(f"{', '.join(names)}: training setting(s), not part of a spec; give them to load_model or "
                        "build, or set them in the recipe")


def resolve_spec(source: SourceLike, **options: Any) -> NetSpec:
    """A spec from a registered name, a spec file, a spec, a saved folder or a trainer checkpoint, then scaled
    (`phi`, `depth`, `width`, `resolution`, `image_size`, ...) and with spec fields overridden (`bn_eps`, `padding`,
    `act`, ...). Training settings are not spec fields: `resolve_model` gives them."""
    no_training(options)
    return ModelOptions.parse(options).spec(spec_of(source))


def resolve_model(source: SourceLike, **options: Any) -> tuple[NetSpec, TrainingDefaults]:
    """`resolve_spec`'s spec and the model's training defaults (its source's, for its phi when compound-scaled, the
    given `dropout`, `drop_path`, `bn_momentum` winning), from one reading of the source."""
    groups = ModelOptions.parse(options)
    resolved = resolve_source(source)
    spec = spec_of(resolved)
    return groups.spec(spec), groups.training_defaults(resolved.training, spec)


def scale(source: SourceLike, *, phi: float | None = None, depth: float = 1.0, width: float = 1.0,
          resolution: float = 1.0, image_size: int | None = None, alpha: float = ALPHA, beta: float = BETA,
          gamma: float = GAMMA, **options: Any) -> NetSpec:
    """Paper Eq. 2 (or Eq. 3 with `phi`) on a model name, spec file or spec: see
    `effnet.architecture.scaling.scale_spec`."""
    no_training(options)
    return scale_spec(spec_of(source), phi=phi, depth=depth, width=width, resolution=resolution,
                      image_size=image_size, alpha=alpha, beta=beta, gamma=gamma, **options)


__all__ = ["SCALE_KEYS", "SPEC_KEYS", "TRAINING_KEYS", "WEIGHT_NEUTRAL_KEYS", "ModelOptions", "given", "no_training",
           "resolve_model", "resolve_spec", "scale"]
