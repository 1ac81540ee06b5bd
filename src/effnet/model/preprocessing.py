"""One typed preprocessing object: how a model wants its images (input size, crop fraction, interpolation,
mean/std) and what its outputs are called (labels). Pretrained entries, the trainer and `save_pretrained` all
produce one; any spec has a default. `effnet.data.transforms.eval_transform` is the one eval transform built
from it, and image loading (`load_image`, `to_image`) lives here too."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import InputError
from .labels import class_names

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TF_LITE_MEAN = (127.0 / 255.0,) * 3  # TF Lite models take (pixel - 127) / 128
TF_LITE_STD = (128.0 / 255.0,) * 3
INTERPOLATIONS = ("bicubic", "bilinear", "nearest")
MAX_INPUT_SIZE = 8192


def _triple(value: Any, name: str) -> tuple[float, float, float]:
    try:
        triple = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"preprocessing {name} must be three numbers, got {value!r}") from None
    if len(triple) != 3 or not all(math.isfinite(v) for v in triple):
        raise InputError(f"preprocessing {name} must be three finite numbers, got {value!r}")
    return triple  # type: ignore[return-value]


@dataclass(frozen=True)
class Preprocessing:
    """Eval preprocessing and label names: resize the shorter side to floor(input_size / crop_pct), center-crop
    `input_size`, scale to [0, 1], normalise with `mean`/`std`. `labels` is a tuple of class names, the name of
    a label set (`"imagenet-1k"`), or None (ImageNet names for 1000 outputs, `class N` otherwise)."""

    input_size: int
    crop_pct: float = 0.875
    interpolation: str = "bicubic"
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    labels: tuple[str, ...] | str | None = None

    def __post_init__(self) -> None:
        size = self.input_size
        if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= MAX_INPUT_SIZE:
            raise InputError(f"input_size must be an integer in [8, {MAX_INPUT_SIZE}], got {size!r}")
        crop = self.crop_pct
        if isinstance(crop, bool) or not isinstance(crop, (int, float)) or not 0.05 <= crop <= 1:
            raise InputError(f"crop_pct must be in [0.05, 1], got {crop!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise InputError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {self.interpolation!r}")
        object.__setattr__(self, "crop_pct", float(crop))
        object.__setattr__(self, "mean", _triple(self.mean, "mean"))
        object.__setattr__(self, "std", _triple(self.std, "std"))
        if min(self.std) <= 0:
            raise InputError(f"preprocessing std must be > 0, got {self.std}")
        labels = self.labels
        if labels is not None and not isinstance(labels, str):
            if not isinstance(labels, Sequence) or not all(isinstance(name, str) for name in labels):
                raise InputError("preprocessing labels must be a list of class names, a label-set name or null")
            object.__setattr__(self, "labels", tuple(labels))

    @classmethod
    def for_resolution(cls, resolution: int) -> Preprocessing:
        """The default for a network designed for `resolution` px with no weights of its own: small inputs (<= 64
        px, e.g. 28-32 px datasets) are used whole; larger ones get the TF EfficientNet eval crop size/(size+32)
        (0.875 at 224), bicubic, ImageNet mean/std."""
        crop = 1.0 if resolution <= 64 else resolution / (resolution + 32)
        return cls(int(resolution), crop)

    def replace(self, **changes: Any) -> Preprocessing:
        """A copy with the given fields changed; a None value means "not given" and changes nothing."""
        return replace(self, **{key: value for key, value in changes.items() if value is not None})

    def without_labels(self) -> Preprocessing:
        """The same preprocessing for a fresh classifier, whose outputs the old names no longer describe."""
        return replace(self, labels=None)

    @property
    def resize_size(self) -> int:
        """The shorter side before the center crop."""
        return int(math.floor(self.input_size / self.crop_pct))

    def class_names(self, num_classes: int) -> tuple[str, ...]:
        """Names for `num_classes` outputs (see `effnet.model.labels.class_names`)."""
        return class_names(self.labels, num_classes)

    def to_dict(self) -> dict[str, Any]:
        labels = list(self.labels) if isinstance(self.labels, tuple) else self.labels
        return {"input_size": self.input_size, "crop_pct": self.crop_pct, "interpolation": self.interpolation,
                "mean": list(self.mean), "std": list(self.std), "labels": labels}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preprocessing:
        """Read what `to_dict` wrote (or a timm-style `pretrained_cfg`; other keys are ignored)."""
        if not isinstance(data, Mapping):
            raise InputError(f"preprocessing must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        if "input_size" not in data:
            raise InputError("preprocessing lacks input_size")
        return cls(**{key: value for key, value in data.items() if key in known})


def _from_16bit(array: np.ndarray) -> np.ndarray:
    """16-bit (or wider integer) pixel values scaled to 8 bits, not clipped."""
    top = 65535 if array.max(initial=0) <= 65535 else int(array.max())
    return np.clip(np.round(array.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)


def _rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode as 8-bit RGB: 16-bit and 32-bit integer images are scaled, float images read as [0, 1]."""
    if image.mode.startswith("I;16") or (image.mode == "I" and np.asarray(image).max(initial=0) > 255):
        image = Image.fromarray(_from_16bit(np.asarray(image)))
    elif image.mode == "I":
        image = Image.fromarray(np.asarray(image).astype(np.uint8))
    elif image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        values = values * 255.0 if values.max(initial=0) <= 1.0 else values
        image = Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8))
    return image.convert("RGB")


def load_image(path: str | Path) -> Image.Image:
    """Open an image file as RGB (16-bit images scaled to 8 bits); `InputError` naming a missing/unreadable file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"image not found: {path}")
    if not path.is_file():
        raise InputError(f"not an image file: {path}")
    try:
        with Image.open(path) as image:
            image.load()
            return _rgb(image)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InputError(f"cannot read image {path}: {str(error).splitlines()[0] if str(error) else error!r}") \
            from None


def to_image(image: str | Path | Image.Image | np.ndarray) -> Image.Image:
    """A path, PIL image or HxW / HxWxC uint8 or uint16 array as an 8-bit RGB PIL image."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if isinstance(image, Image.Image):
        return _rgb(image)
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise InputError(f"image arrays must be HxW or HxWxC (C = 1, 3, 4), got shape {image.shape}")
        if image.dtype == np.uint16:
            image = _from_16bit(image)
        elif image.dtype != np.uint8:
            raise InputError(f"image arrays must be uint8 or uint16, got {image.dtype}")
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        return Image.fromarray(image).convert("RGB")
    raise InputError(f"cannot use {type(image).__name__} as an image; pass a path, PIL image or uint8 array")


__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "INTERPOLATIONS", "TF_LITE_MEAN", "TF_LITE_STD", "Preprocessing",
           "load_image", "to_image"]
