"""A model card: everything a model is besides its tensors -- the spec it is built from, its classes and input
channels, how it wants its images (`Preprocessing`, which holds the class names), what it trains with unless the
recipe says otherwise (`TrainingDefaults`) and where its weights came from (`origin`). Every model source yields
one (`effnet.hub.source`); the loader builds the module from it and attaches it, and a module's `preprocessing`,
`weights_origin` and `pretrained_cfg` are views of its card."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..architecture.spec import NetSpec
from ..architecture.training_defaults import TrainingDefaults
from ..architecture.zoo.registry import training_defaults
from .preprocessing import Preprocessing

Tensors = Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class ModelCard:
    """What a model is and how to feed it. `spec` and `training` are None only for an ONNX file (a graph, not a
    spec), and `num_classes` None only for an ONNX file exported elsewhere. `training`: the dropout, drop path and
    BatchNorm momentum the module is built with -- a recipe field left None means these. `weights` is where the
    weights are -- a tensor mapping or a file -- until a module holds them: a module's own card has none."""

    spec: NetSpec | None
    num_classes: int | None
    in_chans: int
    preprocessing: Preprocessing
    origin: dict[str, Any] = field(default_factory=dict)
    training: TrainingDefaults | None = None
    weights: Tensors | Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def for_spec(cls, spec: NetSpec, num_classes: int = 1000, in_chans: int = 3, *,
                 training: TrainingDefaults | None = None) -> ModelCard:
        """The card of a freshly built network: the spec's default preprocessing, `training` (default: the spec's
        registered `training_defaults`), no weights, no origin."""
        return cls(spec, num_classes, in_chans, Preprocessing.for_resolution(spec.resolution),
                   training=training_defaults(spec) if training is None else training)

    @classmethod
    def from_onnx_metadata(cls, metadata: Mapping[str, Any]) -> ModelCard:
        """The card an exported ONNX file carries in its metadata (`effnet.deploy.export.write_onnx_metadata`); a file
        exported elsewhere gets the default for 224 px."""
        stored = metadata.get("preprocessing")
        classes = metadata.get("num_classes")
        origin = metadata.get("weights_origin")
        return cls(None, classes if isinstance(classes, int) and not isinstance(classes, bool) else None, 3,
                   Preprocessing.from_dict(stored) if stored else Preprocessing.for_resolution(224),
                   dict(origin) if isinstance(origin, Mapping) else {})

    @property
    def class_names(self) -> tuple[str, ...]:
        """The name of each output (see `Preprocessing.class_names`)."""
        return self.preprocessing.class_names(self.num_classes or 0)

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm-style view: the weights' origin, the preprocessing and the class count in one dict."""
        return {**self.origin, **self.preprocessing.to_dict(), "num_classes": self.num_classes}

    def replace(self, **changes: Any) -> ModelCard:
        """A copy with the given fields changed."""
        return replace(self, **changes)

    def with_weights(self, weights: Tensors | Path | None, origin: Mapping[str, Any]) -> ModelCard:
        """The same model with other weights, which came from `origin`."""
        return replace(self, weights=weights, origin=dict(origin))

    def without_labels(self) -> ModelCard:
        """The card of a fresh classifier: the old class names no longer describe its outputs."""
        return replace(self, preprocessing=self.preprocessing.without_labels())


def card_of(model: nn.Module) -> ModelCard | None:
    """The card a module carries (effnet models, their inference wrappers and ONNX Runtime modules), else None."""
    card = getattr(model, "card", None)
    return card if isinstance(card, ModelCard) else None


def with_card(model: nn.Module, card: ModelCard) -> nn.Module:
    """Attach `card` to `model` -- the one way metadata reaches a module. A card that replaces another must describe
    the same network (spec, classes, input channels, the training settings it was built with): only its
    preprocessing and origin may differ. The module holds the tensors, so the attached card holds no weights."""
    current = card_of(model)
    if current is not None and (current.spec, current.num_classes, current.in_chans, current.training) != (
            card.spec, card.num_classes, card.in_chans, card.training):
        raise ValueError("a model card must describe the module it is attached to (same spec, classes, input "
                         "channels and training settings)")
    model.card = replace(card, weights=None)
    return model


__all__ = ["ModelCard", "Tensors", "card_of", "with_card"]
