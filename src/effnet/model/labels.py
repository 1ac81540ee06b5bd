"""Class names for the label sets pretrained entries refer to (ImageNet-1k from torchvision's weight metadata)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

IMAGENET = "imagenet-1k"


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order, read from torchvision's metadata (no download)."""
    from torchvision.models import EfficientNet_B0_Weights  # imported lazily: torchvision.models is slow to load

    return tuple(EfficientNet_B0_Weights.IMAGENET1K_V1.meta["categories"])


def class_names(labels: str | Sequence[str] | None, num_classes: int) -> tuple[str, ...]:
    """Names for `num_classes` outputs: the given list of names (a trained model's classes), ImageNet names when
    the label set (or size) says so, else `class N`."""
    if labels is not None and not isinstance(labels, str) and len(labels) == num_classes:
        return tuple(str(name) for name in labels)
    if num_classes == 1000 and labels in (None, IMAGENET):
        return imagenet_labels()
    return tuple(f"class {index}" for index in range(num_classes))


__all__ = ["IMAGENET", "class_names", "imagenet_labels"]
