"""Image loading and eval preprocessing: resize the shorter side to size / crop_pct, center crop, normalise.

The settings come from a model's `pretrained_cfg` (each pretrained entry carries the ones its weights were
trained with) or, for a model without one, from its spec: input size = spec resolution, crop_pct =
size / (size + 32) (the TF EfficientNet eval crop, 0.875 at 224), bicubic, ImageNet mean/std."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from .errors import InputError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INTERPOLATIONS = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
                  "nearest": Image.Resampling.NEAREST, "lanczos": Image.Resampling.LANCZOS}
_KEYS = ("input_size", "crop_pct", "interpolation", "mean", "std")


def default_config(resolution: int) -> dict[str, Any]:
    """Eval preprocessing for a model trained at `resolution` with no pretrained entry of its own."""
    return {"input_size": int(resolution), "crop_pct": resolution / (resolution + 32), "interpolation": "bicubic",
            "mean": IMAGENET_MEAN, "std": IMAGENET_STD}


def resolve_config(model: torch.nn.Module, **overrides: Any) -> dict[str, Any]:
    """The model's preprocessing: `pretrained_cfg` if it has one, else from its spec (or 224); then overrides."""
    spec = getattr(model, "spec", None)
    config = default_config(getattr(spec, "resolution", 224))
    pretrained = getattr(model, "pretrained_cfg", None) or {}
    config.update({key: pretrained[key] for key in _KEYS if key in pretrained})
    config.update({key: value for key, value in overrides.items() if value is not None})
    _check(config)
    return config


def _check(config: Mapping[str, Any]) -> None:
    if not isinstance(config["input_size"], int) or config["input_size"] < 8:
        raise InputError(f"input_size must be an integer >= 8, got {config['input_size']!r}")
    if not 0 < float(config["crop_pct"]) <= 1:
        raise InputError(f"crop_pct must be in (0, 1], got {config['crop_pct']!r}")
    if config["interpolation"] not in INTERPOLATIONS:
        raise InputError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {config['interpolation']!r}")
    if len(config["mean"]) != 3 or len(config["std"]) != 3 or min(config["std"]) <= 0:
        raise InputError("mean and std need three values each, std > 0")


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB; a missing or unreadable file raises `InputError` naming it."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if not path.is_file():
        raise InputError(f"not an image file: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(f"cannot read image {path}: {error}") from None


def to_image(image: str | Path | Image.Image | np.ndarray) -> Image.Image:
    """A path, PIL image or HxW / HxWxC uint8 array as an RGB PIL image."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return image.convert("RGB")
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.dtype != np.uint8:
            raise InputError(f"image arrays must be HxW or HxWxC uint8, got shape {image.shape} {image.dtype}")
        return Image.fromarray(image).convert("RGB")
    raise InputError(f"cannot use {type(image).__name__} as an image; pass a path, PIL image or uint8 array")


def transform(image: Image.Image, config: Mapping[str, Any]) -> torch.Tensor:
    """RGB PIL image -> normalised CxHxW float tensor: shorter side to floor(size / crop_pct), center crop."""
    size = int(config["input_size"])
    scale = math.floor(size / float(config["crop_pct"]))
    width, height = image.size
    if width <= height:
        new_size = (scale, max(scale, round(height * scale / width)))
    else:
        new_size = (max(scale, round(width * scale / height)), scale)
    image = image.convert("RGB").resize(new_size, INTERPOLATIONS[config["interpolation"]])
    left, top = (new_size[0] - size) // 2, (new_size[1] - size) // 2
    image = image.crop((left, top, left + size, top + size))
    pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(config["mean"], dtype=torch.float32).reshape(3, 1, 1)
    std = torch.tensor(config["std"], dtype=torch.float32).reshape(3, 1, 1)
    return (pixels - mean) / std


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "default_config", "load_image", "resolve_config", "to_image", "transform"]
