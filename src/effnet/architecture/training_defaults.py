"""A model's training defaults: the classifier dropout, stochastic depth (drop path) and BatchNorm momentum it is
trained with unless the recipe says otherwise.

They are training, not architecture: none changes the shape of a weight or what the network computes in eval
mode, so they live with the model's registry entry and travel on its card (as timm's `pretrained_cfg` and
torchvision's weights `meta` keep their training facts), never in its `NetSpec`. Specs written before they moved
held them; `effnet.architecture.spec.legacy_training` reads them back from such a file."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .spec import SpecError


@dataclass(frozen=True)
class TrainingDefaults:
    """`dropout` before the classifier; `drop_path` the stochastic-depth rate of the last block (1 - survival
    probability, growing linearly from 0 at the first); `bn_momentum` in PyTorch's convention (TF's decay 0.99 is
    0.01 here). The class defaults are EfficientNet-B0's (paper Section 5.2), the fallback for a family that
    registered none."""

    dropout: float = 0.2
    drop_path: float = 0.2
    bn_momentum: float = 0.01

    def __post_init__(self) -> None:
        for name in TRAINING_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SpecError(f"{name} must be a finite number, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise SpecError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.drop_path < 1:
            raise SpecError(f"drop_path must be in [0, 1), got {self.drop_path}")
        if not 0 < self.bn_momentum <= 1:
            raise SpecError(f"bn_momentum must be in (0, 1], got {self.bn_momentum}")

    def replace(self, **given: float | None) -> TrainingDefaults:
        """A copy with the settings that were given (None: not given, as everywhere in the loader)."""
        changes = {key: value for key, value in given.items() if value is not None}
        unknown = sorted(set(changes) - set(TRAINING_FIELDS))
        if unknown:
            raise SpecError(f"unknown training setting(s): {', '.join(unknown)}")
        return replace(self, **changes) if changes else self

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def updated(self, data: Mapping[str, Any]) -> TrainingDefaults:
        """These defaults with what a stored "training" entry says (a file's: checked like any input)."""
        if not isinstance(data, Mapping):
            raise SpecError(f"training settings must be a JSON object, got {type(data).__name__}")
        return self.replace(**dict(data))


TRAINING_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(TrainingDefaults))  # = LEGACY_TRAINING_FIELDS

__all__ = ["TRAINING_FIELDS", "TrainingDefaults"]
