"""Trainer checkpoints (`last.pt`, `best.pt`): the format the trainer writes -- plain dicts of tensors, numbers
and strings, read back with `weights_only=True` -- and typed access to what a model needs from one."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..architecture.spec import NetSpec, SpecError
from ..architecture.training_defaults import TrainingDefaults
from ..architecture.zoo.registry import stored_training
from ..errors import WeightsError
from ..model.preprocessing import Preprocessing
from .weights import read_checkpoint

FORMAT = "effnet-trainer-1"


def is_trainer_state(obj: Any) -> bool:
    """True for the content of a file the trainer wrote."""
    return isinstance(obj, Mapping) and obj.get("format") == FORMAT


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a trainer checkpoint safely (no arbitrary unpickling); `WeightsError` for anything else."""
    data = read_checkpoint(path)
    if not is_trainer_state(data):
        raise WeightsError(f"{path} is not an effnet trainer checkpoint")
    return data


def checkpoint_spec(data: Mapping[str, Any], source: str = "checkpoint") -> NetSpec:
    """The architecture a trainer checkpoint was written for."""
    try:
        return NetSpec.from_dict(json.loads(data["spec"]))
    except (KeyError, TypeError, json.JSONDecodeError, SpecError) as error:
        raise WeightsError(f"{source}: corrupt trainer checkpoint (its spec: {error})") from None


def checkpoint_training(data: Mapping[str, Any], spec: NetSpec, source: str = "checkpoint") -> TrainingDefaults:
    """The dropout, drop path and BatchNorm momentum the run's model was built with: stored with the checkpoint
    ("training"); a checkpoint written before that held them in its spec (read back from there)."""
    try:
        return stored_training(spec, data.get("training"), json.loads(data["spec"]))
    except (KeyError, TypeError, json.JSONDecodeError, SpecError) as error:
        raise WeightsError(f"{source}: corrupt trainer checkpoint (its training settings: {error})") from None


def checkpoint_preprocessing(data: Mapping[str, Any], spec: NetSpec) -> Preprocessing:
    """How the run validated: stored with the checkpoint; for checkpoints written before that was stored, the
    spec's default with the run's class names."""
    stored = data.get("preprocessing")
    if isinstance(stored, Mapping):
        return Preprocessing.from_dict(stored)
    classes = data.get("classes")
    crop = (data.get("recipe") or {}).get("crop_fraction")
    base = Preprocessing.for_resolution(spec.resolution)
    return base.replace(labels=tuple(classes) if isinstance(classes, list) else None,
                        crop_pct=crop if isinstance(crop, float) else None)


def checkpoint_state(data: Mapping[str, Any], ema: bool, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """The model's (or, with `ema`, the EMA model's) state dict from a trainer checkpoint."""
    if ema:
        state = data.get("ema_state")
        if not isinstance(state, Mapping):
            raise WeightsError(f"{source} has no EMA weights (the run had EMA off)")
        state = {key[len("module."):]: value for key, value in state.items() if key.startswith("module.")}
    else:
        state = data.get("model_state")
    if not isinstance(state, Mapping) or not state:
        raise WeightsError(f"{source}: corrupt trainer checkpoint (no model weights)")
    return dict(state)


__all__ = ["FORMAT", "checkpoint_preprocessing", "checkpoint_spec", "checkpoint_state", "checkpoint_training",
           "is_trainer_state", "load_checkpoint"]
