"""Class Activation Maps (Zhou et al. 2016), as in the paper's Figure 7, and Grad-CAM (Selvaraju et al. 2017).

CAM: for a network ending in global average pooling + a linear classifier, the map for class k is
sum_c W[k, c] * F_c(x, y) over the last feature maps F (`model.forward_features`). Grad-CAM weights each
feature map by the spatial mean of d logit_k / d F_c instead, so it works for any differentiable head."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import nn

from ..architecture.profiling import images_per_batch
from ..architecture.spec import NetSpec
from ..data.transforms import eval_transform
from ..deploy.prediction import model_preprocessing
from ..errors import InputError
from ..model.preprocessing import Preprocessing, to_image
from ..outputs import atomic_path, check_output

METHODS = ("auto", "cam", "gradcam")


@dataclass
class CamResult:
    """A normalised map (HxW in [0, 1], at the model's input size), the class it explains and the crop shown."""

    cam: np.ndarray
    class_index: int
    probability: float
    method: str
    image: Image.Image


def has_cam_head(model: nn.Module) -> bool:
    """True when the head is global average pooling + one linear layer, where CAM is exact."""
    pool, classifier = getattr(model, "pool", None), getattr(model, "classifier", None)
    return (hasattr(model, "forward_features") and isinstance(classifier, nn.Linear)
            and isinstance(pool, nn.AdaptiveAvgPool2d) and pool.output_size in (1, (1, 1)))


def _check_class(class_index: int | None, num_classes: int) -> None:
    if class_index is not None and not 0 <= class_index < num_classes:
        raise InputError(f"class index {class_index} is out of range: the model has {num_classes} classes "
                         f"(0..{num_classes - 1})")


def _normalise(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    cam = torch.relu(cam)[None, None]
    cam = nn.functional.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]
    peak = float(cam.max())
    return (cam / peak).numpy() if peak > 0 else torch.zeros(size).numpy()


def _features(model: nn.Module, batch: torch.Tensor) -> tuple[torch.Tensor, Any]:
    """The last feature maps and a function from them to logits."""
    if hasattr(model, "forward_features") and hasattr(model, "forward_head"):
        return model.forward_features(batch), model.forward_head
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise InputError(f"{type(model).__name__} has no convolution to explain")
    captured: dict[str, torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
        captured["features"] = output
        return output

    handle = convs[-1].register_forward_hook(hook)
    try:
        logits = model(batch)
    finally:
        handle.remove()
    return captured["features"], lambda _features: logits


def class_activation_map(model: nn.Module, image: Any, class_index: int | None = None, *, method: str = "auto",
                         preprocessing: Preprocessing | None = None, crop: bool = True) -> CamResult:
    """The CAM (or Grad-CAM) of `image` (path, PIL image, uint8 array) for `class_index` or the top class.

    `method="auto"` uses CAM when the head is pool + linear and Grad-CAM otherwise. Preprocessing follows the
    model's `preprocessing` unless `preprocessing` is given; `crop=False` squashes the whole image to the input
    size instead of taking the centre crop, so the map covers the full frame."""
    if method not in METHODS:
        raise InputError(f"unknown CAM method {method!r}; choose from {', '.join(METHODS)}")
    picture = to_image(image)
    config = preprocessing or model_preprocessing(model)
    if isinstance(getattr(model, "spec", None), NetSpec):
        images_per_batch(model.spec, config.input_size, 1)  # refuses an input size that would exhaust memory
    if not crop:
        size = config.input_size
        picture = picture.resize((size, size), Image.Resampling.BICUBIC)
        config = config.replace(crop_pct=1.0)
    tensor = eval_transform(config)(picture)
    batch = tensor[None]
    use_cam = method == "cam" or (method == "auto" and has_cam_head(model))
    if use_cam and not has_cam_head(model):
        raise InputError("CAM needs a global-average-pool + linear head; use method='gradcam' for this model")
    was_training = model.training
    model.eval()
    try:
        if use_cam:
            classifier = model.classifier
            _check_class(class_index, classifier.out_features)
            with torch.no_grad():
                features = model.forward_features(batch)
                logits = model.forward_head(features)
                index = int(logits[0].argmax()) if class_index is None else class_index
                cam = torch.einsum("c,chw->hw", classifier.weight[index].float(), features[0].float())
        else:
            with torch.enable_grad():
                features, head = _features(model, batch)
                if not features.requires_grad:
                    features = features.detach().requires_grad_(True)
                features.retain_grad()
                logits = head(features)
                _check_class(class_index, logits.shape[1])
                index = int(logits[0].argmax()) if class_index is None else class_index
                logits[0, index].backward()
                grad = features.grad
                if grad is None:
                    raise InputError("Grad-CAM found no gradient for the last feature maps of this model")
                weights = grad[0].mean((1, 2))
                cam = torch.einsum("c,chw->hw", weights, features[0].detach())
                model.zero_grad(set_to_none=True)
        probability = float(torch.softmax(logits[0].detach().float(), 0)[index])
    finally:
        model.train(was_training)
    return CamResult(_normalise(cam.detach(), tuple(batch.shape[-2:])), index, probability,
                     "cam" if use_cam else "gradcam", _unnormalise(tensor, config))


def _unnormalise(tensor: torch.Tensor, config: Preprocessing) -> Image.Image:
    mean = torch.tensor(config.mean).reshape(3, 1, 1)
    std = torch.tensor(config.std).reshape(3, 1, 1)
    pixels = ((tensor * std + mean).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(pixels, "RGB")


def colormap(values: np.ndarray) -> np.ndarray:
    """A jet-like colour map: [0, 1] -> uint8 RGB (blue = low, red = high)."""
    v = np.clip(values, 0.0, 1.0)[..., None]
    channels = np.concatenate([1.5 - np.abs(4 * v - 3), 1.5 - np.abs(4 * v - 2), 1.5 - np.abs(4 * v - 1)], -1)
    return (np.clip(channels, 0, 1) * 255).astype(np.uint8)


def overlay(result: CamResult, alpha: float = 0.5) -> Image.Image:
    """The CAM blended over the crop the model saw."""
    heat = Image.fromarray(colormap(result.cam), "RGB")
    return Image.blend(result.image, heat, alpha)


def save_png(image: Image.Image, path: str | os.PathLike[str], *, overwrite: bool = False,
             inputs: Sequence[str | os.PathLike[str]] = ()) -> Path:
    """Write `image` as PNG atomically (temp file in the same folder, then rename); an existing file is replaced
    only with `overwrite`, and never one of `inputs`."""
    target = check_output(path, inputs=inputs, overwrite=overwrite)
    with atomic_path(target, suffix=".png") as temp:
        image.save(temp, format="PNG")
    return target


def cam_grid(models: Sequence[tuple[str, nn.Module]], images: Sequence[Any], class_index: int | None = None, *,
             method: str = "auto", cell: int = 224, labels: Sequence[str] | None = None,
             crop: bool = True) -> Image.Image:
    """Figure-7-style grid: one row per image, the original first, then one CAM overlay per model."""
    if not models or not images:
        raise InputError("a CAM grid needs at least one model and one image")
    header = 18
    grid = Image.new("RGB", (cell * (len(models) + 1), (cell + header) * len(images)), "white")
    draw = ImageDraw.Draw(grid)
    for row, image in enumerate(images):
        top = row * (cell + header)
        original = to_image(image)
        draw.text((4, top + 3), "original", fill="black")
        shown = _square(original, cell) if crop else original.resize((cell, cell), Image.Resampling.BILINEAR)
        grid.paste(shown, (0, top + header))
        for column, (name, model) in enumerate(models, start=1):
            result = class_activation_map(model, original, class_index, method=method, crop=crop)
            label = labels[result.class_index] if labels and result.class_index < len(labels) else result.class_index
            draw.text((column * cell + 4, top + 3), f"{name}: {label}"[: cell // 6], fill="black")
            grid.paste(overlay(result).resize((cell, cell), Image.Resampling.BILINEAR), (column * cell, top + header))
    return grid


def _square(image: Image.Image, size: int) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)


__all__ = ["METHODS", "CamResult", "cam_grid", "class_activation_map", "colormap", "has_cam_head", "overlay",
           "save_png"]
