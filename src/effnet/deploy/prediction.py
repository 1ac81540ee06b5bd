"""Classify images with a model: load, preprocess with the model's own `Preprocessing`, top-k labels and
probabilities.

`predict(model, images)` returns one dict per image, `{"image": path, "top": [{"index", "label", "prob"}]}`;
the pieces (`model_preprocessing`, `prepare`, `top_k_rows`) are public so other runtimes (e.g. ONNX) reuse them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..architecture.profiling import images_per_batch
from ..architecture.spec import NetSpec
from ..data.transforms import eval_transform
from ..errors import InputError
from ..model.card import card_of
from ..model.preprocessing import Preprocessing, to_image

ImageLike = str | Path | Image.Image | np.ndarray


def model_preprocessing(model: nn.Module, **overrides: Any) -> Preprocessing:
    """The preprocessing of the model's card (a module without one -- not an effnet model -- gets the default for
    its spec's resolution, or 224 px), with overrides (None means not given)."""
    card = card_of(model)
    if card is not None:
        return card.preprocessing.replace(**overrides)
    spec = getattr(model, "spec", None)
    return Preprocessing.for_resolution(getattr(spec, "resolution", 224)).replace(**overrides)


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


def prepare(images: Sequence[ImageLike] | ImageLike, preprocessing: Preprocessing) -> torch.Tensor:
    """Load and preprocess images into one NCHW float batch with the one eval transform."""
    if isinstance(images, (str, Path, Image.Image, np.ndarray)):
        images = [images]
    if not images:
        raise InputError("no images given")
    transform = eval_transform(preprocessing)
    return torch.stack([transform(to_image(image)) for image in images])


def top_k_rows(probs: torch.Tensor, labels: Sequence[str], top_k: int) -> list[list[dict[str, Any]]]:
    """Per row of an (N, classes) probability matrix, the `top_k` classes as {index, label, prob} dicts."""
    k = min(top_k, probs.shape[-1])
    values, indices = probs.float().cpu().topk(k, dim=-1)
    return [[{"index": int(i), "label": labels[int(i)], "prob": float(p)} for p, i in zip(row_p, row_i)]
            for row_p, row_i in zip(values, indices)]


@torch.no_grad()
def predict(model: nn.Module, images: Sequence[ImageLike] | ImageLike, top_k: int = 5, *, batch_size: int = 16,
            **preprocessing: Any) -> list[dict[str, Any]]:
    """Top-k predictions per image (paths, PIL images or uint8/uint16 arrays) in eval mode on the model's device.

    Preprocessing follows the model's `preprocessing`; keywords such as `input_size=`, `crop_pct=`, `mean=`,
    `std=` override it."""
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InputError(f"top_k must be a positive integer, got {top_k!r}")
    images = [images] if isinstance(images, (str, Path, Image.Image, np.ndarray)) else list(images)
    settings = model_preprocessing(model, **preprocessing)
    check_images(images)
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    spec = getattr(model, "spec", None)
    if isinstance(spec, NetSpec):  # a batch within the memory bound; one image beyond it is refused
        batch_size = images_per_batch(spec, settings.input_size, batch_size)
    was_training = model.training
    model.eval()
    results: list[dict[str, Any]] = []
    try:
        for start in range(0, len(images), batch_size):
            chunk = images[start:start + batch_size]
            batch = prepare(chunk, settings).to(device=device, dtype=dtype)
            probs = model(batch).float().softmax(dim=-1)
            labels = settings.class_names(probs.shape[-1])
            for offset, top in enumerate(top_k_rows(probs, labels, top_k)):
                results.append({"image": image_name(chunk[offset], start + offset), "top": top})
    finally:
        model.train(was_training)
    if not results:
        raise InputError("no images given")
    return results


__all__ = ["check_images", "image_name", "model_preprocessing", "predict", "prepare", "top_k_rows"]
