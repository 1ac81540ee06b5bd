"""The one loader: every way into a model -- a registered name (with its pretrained weights), a spec file, a
`NetSpec`, a `save_pretrained` folder, a weights file in any supported naming, or a trainer checkpoint -- is resolved
once (`effnet.hub.source.resolve_source`) into a model card, the options are applied to the card (`model_card`), and
`load_model` builds the module from the card, loads its weights and attaches the card, of which the module's
`preprocessing` and `weights_origin` are views.

The model keywords are sorted once into typed groups (`effnet.hub.model_options.ModelOptions`): scaling and spec
fields change the card's spec; `dropout`, `drop_path` and `bn_momentum` are training settings and change its
`training`.

Options follow one rule everywhere: an option given explicitly wins over what a pretrained entry or a stored
model says, and an option that was not given (None) never erases anything."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from ..architecture.spec import NetSpec, SpecError
from ..errors import WeightsError
from ..model.build import EffNet, FeatureExtractor, check_size
from ..model.card import ModelCard, Tensors, with_card
from .model_options import WEIGHT_NEUTRAL_KEYS, ModelOptions
from .source import (
    STORED,
    OnnxFile,
    PretrainedFolder,
    RegisteredName,
    Source,
    SourceLike,
    SpecFile,
    TrainerCheckpoint,
    WeightsFile,
    no_architecture,
    resolve_source,
    resolve_weights,
)
from .weight_loading import load_weights
from .weights import CONFIG_NAME, WEIGHTS_NAME, stored_elements

ModelSource = SourceLike
WeightsSource = str | os.PathLike[str] | Tensors | Source


def _architecture(spec: NetSpec) -> dict[str, Any]:
    """The fields that decide the shapes of the weights."""
    data = spec.to_dict()
    for key in (*WEIGHT_NEUTRAL_KEYS, "name"):
        data.pop(key, None)
    return data


def model_card(source: ModelSource, *, weights: WeightsSource | None = None, pretrained: bool | str | Path = False,
               num_classes: int | None = None, in_chans: int | None = None, ema: bool = False,
               reset_head: bool = False, **options: Any) -> ModelCard:
    """The card `load_model` builds a module from, with the same arguments and rules, without building anything:
    the final spec, classes, input channels, preprocessing (class names dropped for a fresh classifier), origin
    and where the weights are."""
    return _card(source, weights, pretrained, num_classes, in_chans, ema, reset_head, options)[0]


def _card(source: ModelSource, weights: WeightsSource | None, pretrained: bool | str | Path,
          num_classes: int | None, in_chans: int | None, ema: bool, reset_head: bool, options: dict[str, Any]
          ) -> tuple[ModelCard, PretrainedFolder | TrainerCheckpoint | None]:
    """The card, and the stored model (folder or trainer checkpoint) it comes from, if any."""
    groups = ModelOptions.parse(options)
    if pretrained is not True and pretrained not in (False, None):
        if weights is not None:
            raise WeightsError("pretrained=PATH and weights= both name weights; pass one")
        weights, pretrained = pretrained, False
    if pretrained and weights is not None:
        raise WeightsError("pretrained weights and a weights file contradict each other; pass one")
    source = resolve_source(source)
    if isinstance(source, OnnxFile):
        raise WeightsError(f"{source.path} is an ONNX file: it runs as it is (effnet predict --model FILE, or "
                           "effnet.deploy.export.load_onnx) and cannot be rebuilt as a PyTorch model")
    if isinstance(source, STORED):
        if weights is not None or pretrained:
            raise WeightsError(f"{source.path} holds its own weights; do not also pass weights or pretrained")
        return _stored_card(source, groups, num_classes, in_chans, ema, reset_head), source
    weights = None if weights is None else resolve_weights(weights)
    if isinstance(weights, STORED):
        wanted = ModelOptions(scaling=groups.scaling).spec(_spec(source))
        if _architecture(wanted) != _architecture(weights.spec):
            raise WeightsError(f"{weights.path} holds a {weights.spec.name} model, not {wanted.name}; leave the "
                               "model out to use the weights' own architecture")
        groups = replace(groups, scaling={})
        return _stored_card(weights, groups, num_classes, in_chans, ema, reset_head), weights
    if isinstance(source, WeightsFile):
        raise no_architecture(source.path)
    if ema:
        raise WeightsError("EMA weights come from a trainer checkpoint; this source has none")
    if pretrained and not isinstance(source, RegisteredName):
        raise WeightsError("pretrained weights are registered for model names; pass a weights file for a spec")
    card = source.card(pretrained=bool(pretrained)) if isinstance(source, RegisteredName) else source.card()
    assert card.training is not None
    card = card.replace(spec=groups.spec(_spec(card)), training=groups.training_defaults(card.training, _spec(card)),
                        num_classes=card.num_classes if num_classes is None else num_classes,
                        in_chans=3 if in_chans is None else in_chans)
    if isinstance(weights, WeightsFile):
        card = card.with_weights(weights.state(), {"source": str(weights.path)})
    elif isinstance(weights, Mapping):
        card = card.replace(weights=weights)
    elif weights is not None:
        raise WeightsError(f"{getattr(weights, 'path', weights)} is not a weights file")
    return (card.without_labels() if reset_head else card), None


def _spec(source: RegisteredName | SpecFile | WeightsFile | ModelCard) -> NetSpec:
    if isinstance(source, WeightsFile):
        raise no_architecture(source.path)
    assert source.spec is not None
    return source.spec


def _stored_card(stored: PretrainedFolder | TrainerCheckpoint, groups: ModelOptions, num_classes: int | None,
                 in_chans: int | None, ema: bool, reset_head: bool) -> ModelCard:
    """A stored model's card with the options it allows: weight-neutral spec fields, training settings, and
    another class count with `reset_head`."""
    shaping = groups.shaping
    if shaping:
        raise SpecError(f"{stored.path} carries its own architecture and weights; {', '.join(shaping)} cannot "
                        "change it")
    if in_chans is not None and in_chans != stored.in_chans:
        raise WeightsError(f"{stored.path} was saved with {stored.in_chans} input channels, not {in_chans}")
    classes = stored.num_classes if num_classes is None else num_classes
    if classes != stored.num_classes and not reset_head:
        raise WeightsError(f"{stored.path} has {stored.num_classes} classes, not {classes}; a fresh classifier "
                           "needs reset_head")
    card = stored.card(ema=ema)
    assert card.training is not None
    card = card.replace(spec=groups.spec(stored.spec), training=groups.training_defaults(card.training, stored.spec),
                        num_classes=classes)
    return card.without_labels() if reset_head or classes != stored.num_classes else card


def _check_folder(folder: PretrainedFolder, card: ModelCard) -> int | None:
    """A saved folder's config must not ask for more parameters than its weights file holds: a hostile config is
    refused before anything is allocated. Returns the count checked when it is the one the card's module needs
    (then the build does not profile the spec again)."""
    if not folder.weights_file.is_file():
        raise WeightsError(f"{folder.path} is missing {WEIGHTS_NAME}")
    needed = check_size(_spec(card), folder.num_classes, folder.in_chans)
    held = stored_elements(folder.weights_file)
    if held < needed:
        raise WeightsError(f"{folder.path}: {CONFIG_NAME} describes {needed:,} parameters but {WEIGHTS_NAME} "
                           f"holds only {held:,} numbers")
    return needed if card.num_classes == folder.num_classes else None


def _load(model: nn.Module, card: ModelCard, reset_head: bool) -> None:
    """`load_weights` of the card's weights, naming where they came from in its errors."""
    assert card.weights is not None
    source = card.origin.get("source")
    load_weights(model, card.weights, reset_head=reset_head, origin=None if source is None else str(source))


def load_model(source: ModelSource, *, weights: WeightsSource | None = None, pretrained: bool | str | Path = False,
               num_classes: int | None = None, in_chans: int | None = None, ema: bool = False,
               reset_head: bool = False, features_only: bool = False, out_indices: Sequence[int] | None = None,
               **options: Any) -> nn.Module:
    """A model from any source, with its weights and its card (`model.card`; `preprocessing` and `weights_origin`
    are views of it).

    `source`: a registered name, a spec file, a `NetSpec`, a `save_pretrained` folder, a trainer checkpoint, or
    one of them already resolved (`effnet.resolve_source`). `weights`: a file in effnet / timm / torchvision /
    efficientnet_pytorch naming (or a state dict, a folder or a trainer checkpoint) to load into the architecture
    `source` names. `pretrained=True` loads the registered weights of a name (a path there means `weights`).
    `ema=True` takes a trainer checkpoint's EMA weights. `num_classes` different from the weights' needs
    `reset_head=True` (a fresh, zeroed classifier). Other keywords scale the spec (`phi`, `depth`, `width`,
    `resolution`, `image_size`, ...), override its fields (`bn_eps`, `padding`, `act`, ...) or set the training
    settings the module is built with (`dropout`, `drop_path`, `bn_momentum`; by default the model's own,
    `model.card.training`); None means not given."""
    card, stored = _card(source, weights, pretrained, num_classes, in_chans, ema, reset_head, options)
    params = _check_folder(stored, card) if isinstance(stored, PretrainedFolder) else None
    assert card.spec is not None and card.num_classes is not None and card.training is not None
    model = EffNet(card.spec, card.num_classes, card.in_chans, params=params, **card.training.to_dict())
    if card.weights is not None:
        _load(model, card, reset_head)  # another class count than the weights' needs reset_head (checked above)
    with_card(model, card)
    return FeatureExtractor(model, out_indices) if features_only else model


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


__all__ = ["ModelSource", "WeightsSource", "create_model", "from_pretrained", "load_model", "model_card"]
