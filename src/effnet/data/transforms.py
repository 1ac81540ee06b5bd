"""Train/eval pipelines from torchvision (v2): random-resized-crop + flip + AutoAugment/RandAugment (+ erasing),
and resize + center-crop with a crop fraction. Grayscale inputs are expanded to 3 channels."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
AUGMENTS = ("autoaugment", "randaugment", "trivialaugment", "none")


@dataclass(frozen=True)
class TransformConfig:
    """The knobs of the data pipeline (a recipe supplies them)."""

    resolution: int
    augment: str = "autoaugment"
    randaugment_ops: int = 2
    randaugment_magnitude: int = 9
    crop_scale_min: float = 0.08
    hflip: float = 0.5
    random_erasing: float = 0.0
    crop_fraction: float = 0.875
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD


class ToRGB(torch.nn.Module):
    """PIL image or uint8 CHW tensor -> uint8 3-channel tensor (grayscale is repeated, alpha dropped)."""

    def forward(self, image):
        if not isinstance(image, torch.Tensor):
            image = v2.functional.pil_to_tensor(image.convert("RGB"))
        if image.ndim == 2:
            image = image.unsqueeze(0)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        return v2.functional.to_image(image[:3].contiguous())


def _augment(config: TransformConfig) -> list[torch.nn.Module]:
    if config.augment == "autoaugment":
        return [v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET)]
    if config.augment == "randaugment":
        return [v2.RandAugment(config.randaugment_ops, config.randaugment_magnitude)]
    if config.augment == "trivialaugment":
        return [v2.TrivialAugmentWide()]
    return []


def train_transform(config: TransformConfig) -> v2.Compose:
    """Random-resized-crop, flip, policy augmentation, normalise, optional random erasing."""
    ops = [ToRGB(), v2.RandomResizedCrop(config.resolution, scale=(config.crop_scale_min, 1.0), antialias=True)]
    if config.hflip > 0:
        ops.append(v2.RandomHorizontalFlip(config.hflip))
    ops += _augment(config)
    ops += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(config.mean, config.std)]
    if config.random_erasing > 0:
        ops.append(v2.RandomErasing(config.random_erasing, value=0))
    return v2.Compose(ops)


def eval_transform(config: TransformConfig) -> v2.Compose:
    """Resize to resolution / crop_fraction, then center-crop `resolution` (the paper's eval protocol)."""
    resize = int(math.floor(config.resolution / config.crop_fraction))
    return v2.Compose([ToRGB(), v2.Resize(resize, antialias=True), v2.CenterCrop(config.resolution),
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(config.mean, config.std)])


def mixup(images: torch.Tensor, targets: torch.Tensor, num_classes: int, alpha: float,
          smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) of a batch with its reverse: soft targets, one lambda per batch."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    off, on = smoothing / num_classes, 1.0 - smoothing + smoothing / num_classes
    soft = torch.full((len(targets), num_classes), off, device=targets.device)
    soft.scatter_(1, targets[:, None], on)
    return images * lam + images.flip(0) * (1 - lam), soft * lam + soft.flip(0) * (1 - lam)
