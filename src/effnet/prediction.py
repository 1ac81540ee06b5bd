"""Classify images with a model: load, preprocess with the model's own settings, top-k labels and probabilities.

`predict(model, images)` returns one dict per image, `{"image": path, "top": [{"index", "label", "prob"}]}`;
the pieces (`prepare`, `top_k_rows`) are public so other runtimes (e.g. ONNX) can reuse them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from .errors import InputError
from .labels import class_names
from .preprocess import resolve_config, to_image, transform

ImageLike = str | Path | Image.Image | np.ndarray


def image_name(image: ImageLike, index: int) -> str:
    """How an input is named in results: its path as given, or `<image N>` for in-memory images."""
    return str(image) if isinstance(image, (str, Path)) else f"<image {index}>"


def check_images(images: Sequence[ImageLike]) -> None:
    """Fail fast (before any model work) on image paths that do not exist or are not files."""
    for image in images:
        if isinstance(image, (str, Path)):
            if not Path(image).exists():
                raise InputError(f"image not found: {image}")
            if not Path(image).is_file():
                raise InputError(f"not an image file: {image}")


def prepare(images: Sequence[ImageLike], config: Mapping[str, Any]) -> torch.Tensor:
    """Load and preprocess images into one NCHW float batch."""
    if isinstance(images, (str, Path, Image.Image, np.ndarray)):
        images = [images]
    if not images:
        raise InputError("no images given")
    return torch.stack([transform(to_image(image), config) for image in images])


def top_k_rows(probs: torch.Tensor, labels: Sequence[str], top_k: int) -> list[list[dict[str, Any]]]:
    """Per row of an (N, classes) probability matrix, the `top_k` classes as {index, label, prob} dicts."""
    k = min(top_k, probs.shape[-1])
    values, indices = probs.float().cpu().topk(k, dim=-1)
    return [[{"index": int(i), "label": labels[int(i)], "prob": float(p)} for p, i in zip(row_p, row_i)]
            for row_p, row_i in zip(values, indices)]


def model_labels(model: nn.Module, num_classes: int) -> tuple[str, ...]:
    """Class names for the model's outputs (its pretrained entry's label set, ImageNet for 1000 classes)."""
    labels = (getattr(model, "pretrained_cfg", None) or {}).get("labels")
    return class_names(labels, num_classes)


@torch.no_grad()
def predict(model: nn.Module, images: Sequence[ImageLike] | ImageLike, top_k: int = 5, *, batch_size: int = 16,
            **config: Any) -> list[dict[str, Any]]:
    """Top-k predictions per image (paths, PIL images or uint8 arrays) in eval mode on the model's device.

    Preprocessing follows the model's `pretrained_cfg` (or its spec resolution); keywords such as
    `input_size=`, `crop_pct=`, `mean=`, `std=` override it."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"top_k must be a positive integer, got {top_k!r}")
    images = [images] if isinstance(images, (str, Path, Image.Image, np.ndarray)) else list(images)
    settings = resolve_config(model, **config)
    check_images(images)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    was_training = model.training
    model.eval()
    results: list[dict[str, Any]] = []
    try:
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batch = prepare(chunk, settings).to(device=device, dtype=dtype)
            probs = model(batch).float().softmax(dim=-1)
            labels = model_labels(model, probs.shape[-1])
            for offset, top in enumerate(top_k_rows(probs, labels, top_k)):
                results.append({"image": image_name(chunk[offset], start + offset), "top": top})
    finally:
        model.train(was_training)
    if not results:
        raise InputError("no images given")
    return results


__all__ = ["check_images", "image_name", "model_labels", "predict", "prepare", "top_k_rows"]
