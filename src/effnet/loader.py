"""The one loader: every way into a model -- a registered name (with its pretrained weights), a spec file, a
`NetSpec`, a `save_pretrained` folder, a weights file in any supported naming, or a trainer checkpoint -- goes
through `load_model`, and every model it returns carries its `preprocessing` and the origin of its weights.

Options follow one rule everywhere: an option given explicitly wins over what a pretrained entry or a stored
model says, and an option that was not given (None) never erases anything."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .build import FeatureExtractor, build, check_size
from .checkpoints import checkpoint_preprocessing, checkpoint_spec, checkpoint_state, is_trainer_state
from .errors import WeightsError
from .preprocessing import Preprocessing
from .pretrained import pretrained_entry
from .spec import NetSpec, SpecError
from .specs import SCALE_KEYS, WEIGHT_NEUTRAL_KEYS, check_options, given, resolve_spec
from .weight_loading import load_weights
from .weights import CONFIG_NAME, WEIGHTS_NAME, read_checkpoint, read_config, stored_elements
from .zoo import SpecSource, get_spec, is_registered

ModelSource = SpecSource
WeightsSource = str | os.PathLike[str] | Mapping[str, torch.Tensor]


@dataclass
class StoredModel:
    """A model that arrives with its own architecture: a `save_pretrained` folder or a trainer checkpoint."""

    source: str
    spec: NetSpec
    num_classes: int
    in_chans: int
    preprocessing: Preprocessing
    weights_origin: dict[str, Any] = field(default_factory=dict)
    weights: Path | None = None  # a save_pretrained folder's safetensors file (read after the size check)
    data: Mapping[str, Any] | None = None  # a trainer checkpoint's content

    def state(self, ema: bool) -> Mapping[str, torch.Tensor] | Path:
        if self.data is not None:
            return checkpoint_state(self.data, ema, self.source)
        if ema:
            raise WeightsError(f"{self.source} holds one set of weights (no EMA); its EMA twin is saved as a "
                               "separate folder (pretrained-ema)")
        assert self.weights is not None
        return self.weights


def _is_path(source: object) -> bool:
    return isinstance(source, (str, os.PathLike)) and not is_registered(source)


def stored_model(source: str | os.PathLike[str]) -> StoredModel | None:
    """The stored model at `source` (a save_pretrained folder or a trainer checkpoint), else None."""
    path = Path(source)
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise WeightsError(f"{path} is a folder but not a saved effnet model ({CONFIG_NAME} not found)")
        config = read_config(path)
        return StoredModel(str(path), config["spec"], config["num_classes"], config["in_chans"],
                           config["preprocessing"], config["weights_origin"], weights=path / WEIGHTS_NAME)
    if not path.is_file() or path.suffix.lower() == ".json":
        return None
    data = read_checkpoint(path)
    if not is_trainer_state(data):
        return None
    spec = checkpoint_spec(data, str(path))
    num_classes, in_chans = data.get("num_classes"), data.get("in_chans", 3)
    for name, value in (("num_classes", num_classes), ("in_chans", in_chans)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise WeightsError(f"{path}: corrupt trainer checkpoint ({name} {str(value)[:40]!r})")
    origin = {"model": str(data.get("model", spec.name)), "origin": f"trainer checkpoint {path.name}",
              "ema_available": isinstance(data.get("ema_state"), Mapping)}
    return StoredModel(str(path), spec, num_classes, in_chans,
                       checkpoint_preprocessing(data, spec), origin, data=data)


def _architecture(spec: NetSpec) -> dict[str, Any]:
    """The fields that decide the shapes of the weights."""
    data = spec.to_dict()
    for key in (*WEIGHT_NEUTRAL_KEYS, "name"):
        data.pop(key, None)
    return data


def _stored_spec(stored: StoredModel, options: dict[str, Any]) -> NetSpec:
    shaping = sorted(set(options) - WEIGHT_NEUTRAL_KEYS)
    if shaping:
        raise SpecError(f"{stored.source} carries its own architecture and weights; {', '.join(shaping)} cannot "
                        "change it")
    return stored.spec.replace(**options) if options else stored.spec


def _check_weights_file(stored: StoredModel, num_classes: int) -> None:
    """A saved folder's config must not ask for more parameters than its weights file holds: a hostile config is
    refused before anything is allocated."""
    if stored.weights is None:
        return
    if not stored.weights.is_file():
        raise WeightsError(f"{stored.source} is missing {WEIGHTS_NAME}")
    needed = check_size(stored.spec, num_classes, stored.in_chans)
    held = stored_elements(stored.weights)
    if held < needed:
        raise WeightsError(f"{stored.source}: {CONFIG_NAME} describes {needed:,} parameters but {WEIGHTS_NAME} "
                           f"holds only {held:,} numbers")


def load_model(source: ModelSource, *, weights: WeightsSource | None = None, pretrained: bool | str | Path = False,
               num_classes: int | None = None, in_chans: int | None = None, ema: bool = False,
               reset_head: bool = False, features_only: bool = False, out_indices: Sequence[int] | None = None,
               **options: Any) -> nn.Module:
    """A model from any source, with its weights, `preprocessing` and `weights_origin`.

    `source`: a registered name, a spec file, a `NetSpec`, a `save_pretrained` folder or a trainer checkpoint.
    `weights`: a file in effnet / timm / torchvision / efficientnet_pytorch naming (or a state dict, a folder or a
    trainer checkpoint) to load into the architecture `source` names. `pretrained=True` loads the registered
    weights of a name (a path there means `weights`). `ema=True` takes a trainer checkpoint's EMA weights.
    `num_classes` different from the weights' needs `reset_head=True` (a fresh, zeroed classifier). Other keywords
    scale the spec (`phi`, `depth`, `width`, `resolution`, `image_size`, ...) or override its fields (`bn_eps`,
    `padding`, `dropout`, `drop_path`, ...); None means not given."""
    options = given(options)
    check_options(options)
    if pretrained is not True and pretrained not in (False, None):
        if weights is not None:
            raise WeightsError("pretrained=PATH and weights= both name weights; pass one")
        weights, pretrained = pretrained, False
    if pretrained and weights is not None:
        raise WeightsError("pretrained weights and a weights file contradict each other; pass one")
    stored = stored_model(source) if _is_path(source) else None
    if stored is not None:
        if weights is not None or pretrained:
            raise WeightsError(f"{stored.source} holds its own weights; do not also pass weights or pretrained")
    elif isinstance(weights, (str, os.PathLike)):
        stored = stored_model(weights)
        if stored is not None:
            wanted = resolve_spec(source, **{k: v for k, v in options.items() if k in SCALE_KEYS})
            if _architecture(wanted) != _architecture(stored.spec):
                raise WeightsError(f"{stored.source} holds a {stored.spec.name} model, not {wanted.name}; leave the "
                                   "model out to use the weights' own architecture")
            options = {k: v for k, v in options.items() if k not in SCALE_KEYS}
    if stored is None and _is_path(source) and Path(source).is_file() and Path(source).suffix.lower() != ".json":
        raise WeightsError(f"{source} is a weights file without an architecture: name the model it belongs to "
                           "and pass the file as its weights")
    if stored is not None:
        model = _from_stored(stored, options, num_classes, in_chans, ema, reset_head)
    else:
        if ema:
            raise WeightsError("EMA weights come from a trainer checkpoint; this source has none")
        model = _from_spec(source, weights, bool(pretrained), options, num_classes, in_chans, reset_head)
    return FeatureExtractor(model, out_indices) if features_only else model


def _from_stored(stored: StoredModel, options: dict[str, Any], num_classes: int | None, in_chans: int | None,
                 ema: bool, reset_head: bool) -> nn.Module:
    spec = _stored_spec(stored, options)
    if in_chans is not None and in_chans != stored.in_chans:
        raise WeightsError(f"{stored.source} was saved with {stored.in_chans} input channels, not {in_chans}")
    classes = stored.num_classes if num_classes is None else num_classes
    if classes != stored.num_classes and not reset_head:
        raise WeightsError(f"{stored.source} has {stored.num_classes} classes, not {classes}; a fresh classifier "
                           "needs reset_head")
    _check_weights_file(stored, stored.num_classes)
    model = build(spec, classes, in_chans=stored.in_chans)
    report = load_weights(model, stored.state(ema), reset_head=reset_head or classes != stored.num_classes)
    model.preprocessing = stored.preprocessing.without_labels() if report.head_reset else stored.preprocessing
    model.weights_origin = {**stored.weights_origin, "source": stored.source, **({"ema": True} if ema else {})}
    return model


def _from_spec(source: ModelSource, weights: WeightsSource | None, pretrained: bool, options: dict[str, Any],
               num_classes: int | None, in_chans: int | None, reset_head: bool) -> nn.Module:
    entry = None
    if pretrained:
        if not isinstance(source, str) or not is_registered(source):
            get_spec(source)  # an unknown name: the error names close matches
            raise WeightsError("pretrained weights are registered for model names; pass a weights file for a spec")
        entry = pretrained_entry(source)
        options = {**entry.spec_overrides, **options}  # what the user gave wins over the entry's settings
    spec = resolve_spec(source, **options)
    classes = (entry.num_classes if entry else 1000) if num_classes is None else num_classes
    model = build(spec, classes, in_chans=3 if in_chans is None else in_chans)
    if entry is not None:
        report = load_weights(model, entry.path(), reset_head=reset_head)
        model.preprocessing = entry.preprocessing.without_labels() if report.head_reset else entry.preprocessing
        model.weights_origin = entry.weights_origin()
    elif weights is not None:
        load_weights(model, weights, reset_head=reset_head)
        if not isinstance(weights, Mapping):
            model.weights_origin = {"source": os.fspath(weights)}
    return model


def create_model(name_or_spec: ModelSource, *, num_classes: int | None = None,
                 pretrained: bool | str | Path = False, in_chans: int | None = None, features_only: bool = False,
                 out_indices: Sequence[int] | None = None, reset_head: bool = False, **options: Any) -> nn.Module:
    """timm-style entry point: a model by name (or spec file / spec), optionally with `pretrained=True` (its
    registered weights) or `pretrained=PATH` (a checkpoint in any supported naming); `num_classes` defaults to the
    weights' (1000 for a fresh network). Same rules as `load_model`."""
    return load_model(name_or_spec, pretrained=pretrained, num_classes=num_classes, in_chans=in_chans,
                      features_only=features_only, out_indices=out_indices, reset_head=reset_head, **options)


def from_pretrained(directory: str | Path, *, num_classes: int | None = None, reset_head: bool = False) -> nn.Module:
    """Rebuild a model saved by `save_pretrained` (config.json + model.safetensors) with its preprocessing."""
    if not Path(directory).is_dir():
        raise WeightsError(f"{directory} is not a save_pretrained folder")
    return load_model(directory, num_classes=num_classes, reset_head=reset_head)


__all__ = ["ModelSource", "StoredModel", "WeightsSource", "create_model", "from_pretrained", "load_model",
           "stored_model"]
