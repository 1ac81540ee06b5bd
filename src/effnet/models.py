"""`create_model`: name or spec -> module, with scaling/override options and pretrained weights."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from torch import nn

from .build import build
from .scaling import scale
from .spec import NetSpec, SpecError
from .zoo import get_spec

_SCALE_KEYS = ("phi", "depth", "width", "resolution", "image_size", "alpha", "beta", "gamma",
               "fix_stem_head", "fix_first_last_depth")
_SPEC_KEYS = {f.name for f in fields(NetSpec)} - {"name", "stem", "stages", "head"}


def resolve_spec(name_or_spec: str | NetSpec, **options: Any) -> NetSpec:
    """A spec from a registry name or spec, then scaled (`phi`, `depth`, ...) and with spec fields
    overridden (`bn_eps`, `padding`, `act`, `dropout`, `drop_path`, ...)."""
    spec = name_or_spec if isinstance(name_or_spec, NetSpec) else get_spec(name_or_spec)
    unknown = set(options) - set(_SCALE_KEYS) - _SPEC_KEYS
    if unknown:
        raise SpecError(f"unknown model option(s): {', '.join(sorted(unknown))}")
    scaling = {k: options.pop(k) for k in _SCALE_KEYS if k in options and options[k] is not None}
    if scaling:
        spec = scale(spec, **scaling)
    overrides = {k: v for k, v in options.items() if v is not None}
    return spec.replace(**overrides) if overrides else spec


def create_model(name_or_spec: str | NetSpec, *, num_classes: int = 1000, pretrained: bool | str | Path = False,
                 in_chans: int = 3, features_only: bool = False, out_indices: Sequence[int] | None = None,
                 reset_head: bool = False, **overrides: Any) -> nn.Module:
    """Build a model by name (`efficientnet-b0` ... `efficientnet-b8`, `efficientnet-lite0` ..., any
    registered baseline) or from a `NetSpec`.

    `phi=`/`depth=`/`width=`/`resolution=` scale it (Eq. 2-3); other keywords override spec fields.
    `pretrained=True` loads the registered weights for the name; a path loads that checkpoint (timm,
    torchvision, efficientnet_pytorch or effnet naming). `reset_head=True` keeps the backbone weights and
    gives a fresh classifier when `num_classes` differs from the checkpoint's."""
    from .weights import load_weights

    entry = None
    if pretrained is True:
        from .pretrained import pretrained_entry, pretrained_spec_overrides

        if not isinstance(name_or_spec, str):
            raise SpecError("pretrained=True needs a model name; pass pretrained='path/to/file' for a spec")
        entry = pretrained_entry(name_or_spec)
        for key, value in pretrained_spec_overrides(entry).items():
            overrides.setdefault(key, value)
    spec = resolve_spec(name_or_spec, **overrides)
    if pretrained and pretrained is not True:
        path = Path(pretrained)
        model = build(spec, num_classes, in_chans=in_chans)
        load_weights(model, path, reset_head=reset_head)
    elif entry is not None:
        model = build(spec, num_classes, in_chans=in_chans)
        load_weights(model, entry.path(), reset_head=reset_head)
        model.pretrained_cfg = entry.config()
        if num_classes != model.pretrained_cfg["num_classes"]:  # a fresh head: the label set no longer applies
            model.pretrained_cfg.update(num_classes=num_classes, labels=None)
    else:
        model = build(spec, num_classes, in_chans=in_chans)
    if features_only:
        from .build import FeatureExtractor

        return FeatureExtractor(model, out_indices)
    return model
