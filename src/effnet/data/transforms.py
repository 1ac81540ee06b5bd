"""The image pipelines, from torchvision (v2): one eval transform built from a model's `Preprocessing`, and the
training transform (random-resized-crop, flip, AutoAugment/RandAugment/TrivialAugment, random erasing) built
from the same preprocessing plus a recipe's `Augmentation`. Both take PIL images or uint8 CHW tensors;
grayscale inputs become 3 channels. torchvision is imported where a pipeline is built or run: importing it loads
torch._dynamo (2.5 s here), which `import effnet` and the commands that never touch an image need not pay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import InputError
from ..model.preprocessing import Preprocessing

if TYPE_CHECKING:
    from torchvision.transforms import v2

POLICIES = ("autoaugment", "randaugment", "trivialaugment", "none")


@dataclass(frozen=True)
class Augmentation:
    """Training-time augmentation (a recipe holds one): the policy and its strength, the random-resized-crop
    scale range, flips, random erasing and mixup."""

    policy: str = "autoaugment"
    randaugment_ops: int = 2
    randaugment_magnitude: int = 9
    crop_scale_min: float = 0.08
    hflip: float = 0.5
    random_erasing: float = 0.0
    mixup_alpha: float = 0.0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise InputError(f"augmentation policy must be one of {', '.join(POLICIES)}, got {self.policy!r}")
        checks = {"randaugment_ops": 0 <= self.randaugment_ops <= 16,
                  "randaugment_magnitude": 0 <= self.randaugment_magnitude <= 30,
                  "crop_scale_min": 0 < self.crop_scale_min <= 1, "hflip": 0 <= self.hflip <= 1,
                  "random_erasing": 0 <= self.random_erasing <= 1, "mixup_alpha": 0 <= self.mixup_alpha <= 100}
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise InputError(f"augmentation {bad[0]} = {getattr(self, bad[0])!r} is out of range")


class ToRGB(torch.nn.Module):
    """PIL image or uint8 CHW tensor -> uint8 3-channel tensor (grayscale is repeated, alpha dropped)."""

    def forward(self, image):
        from torchvision.transforms import v2

        if not isinstance(image, torch.Tensor):
            image = v2.functional.pil_to_tensor(image.convert("RGB"))
        if image.ndim == 2:
            image = image.unsqueeze(0)
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        return v2.functional.to_image(image[:3].contiguous())


def _policy(augmentation: Augmentation) -> list[torch.nn.Module]:
    from torchvision.transforms import v2

    if augmentation.policy == "autoaugment":
        return [v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET)]
    if augmentation.policy == "randaugment":
        return [v2.RandAugment(augmentation.randaugment_ops, augmentation.randaugment_magnitude)]
    if augmentation.policy == "trivialaugment":
        return [v2.TrivialAugmentWide()]
    return []


def _normalize(preprocessing: Preprocessing) -> list[torch.nn.Module]:
    from torchvision.transforms import v2

    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(preprocessing.mean, preprocessing.std)]


MAX_RESIZED_PIXELS = 64 * 2**20  # an image whose resize would make more pixels than this is refused


class SizeGuard(torch.nn.Module):
    """Refuses an image whose resize to `shorter` px on its shorter side would allocate too much: a file of a few
    hundred bytes can be 1 x 20000 px, and resizing it would make a 5-gigapixel image."""

    def __init__(self, shorter: int) -> None:
        super().__init__()
        self.shorter = shorter

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        height, width = image.shape[-2:]
        scale = self.shorter / max(1, min(height, width))
        if height * width * scale * scale > MAX_RESIZED_PIXELS:
            raise InputError(f"an image of {width}x{height} px is too extreme in shape: resizing its shorter side to "
                             f"{self.shorter} px would make {height * width * scale * scale / 1e6:,.0f} megapixels "
                             f"(at most {MAX_RESIZED_PIXELS / 1e6:.0f})")
        return image


def eval_transform(preprocessing: Preprocessing) -> v2.Compose:
    """The one eval transform: shorter side to floor(input_size / crop_pct), center crop, normalise (an image of an
    extreme shape is refused before it is resized)."""
    from torchvision.transforms import v2

    resize = v2.Resize(preprocessing.resize_size, interpolation=v2.InterpolationMode(preprocessing.interpolation),
                       antialias=True)
    return v2.Compose([ToRGB(), SizeGuard(preprocessing.resize_size), resize, v2.CenterCrop(preprocessing.input_size),
                       *_normalize(preprocessing)])


def train_transform(preprocessing: Preprocessing, augmentation: Augmentation) -> v2.Compose:
    """Random-resized-crop to the input size, flip, policy augmentation, normalise, optional random erasing."""
    from torchvision.transforms import v2

    crop = v2.RandomResizedCrop(preprocessing.input_size, scale=(augmentation.crop_scale_min, 1.0),
                                interpolation=v2.InterpolationMode(preprocessing.interpolation), antialias=True)
    ops = [ToRGB(), crop]
    if augmentation.hflip > 0:
        ops.append(v2.RandomHorizontalFlip(augmentation.hflip))
    ops += [*_policy(augmentation), *_normalize(preprocessing)]
    if augmentation.random_erasing > 0:
        ops.append(v2.RandomErasing(augmentation.random_erasing, value=0))
    return v2.Compose(ops)


def mixup(images: torch.Tensor, targets: torch.Tensor, num_classes: int, alpha: float,
          smoothing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al. 2018) of a batch with its reverse: soft targets, one lambda per batch."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample()) if alpha > 0 else 1.0
    off, on = smoothing / num_classes, 1.0 - smoothing + smoothing / num_classes
    soft = torch.full((len(targets), num_classes), off, device=targets.device)
    soft.scatter_(1, targets[:, None], on)
    return images * lam + images.flip(0) * (1 - lam), soft * lam + soft.flip(0) * (1 - lam)


__all__ = ["MAX_RESIZED_PIXELS", "POLICIES", "Augmentation", "SizeGuard", "ToRGB", "eval_transform", "mixup",
           "train_transform"]
