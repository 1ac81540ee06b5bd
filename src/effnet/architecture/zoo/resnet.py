"""ResNet-18/34/50/101/152 (He et al. 2016) in torchvision's layout: 7x7/2 conv stem + 3x3/2 max-pool, four
stages of basic (18/34) or bottleneck (50+) blocks, no head conv. Parameter counts equal torchvision's.
Depth scaling repeats the residual blocks of each stage (e.g. 3, 4, 6, 3 for ResNet-50); width scaling widens
every conv including the stem (the bottleneck's inner width stays 1/4 of its output)."""

from __future__ import annotations

from functools import partial

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def resnet(layers: int = 50) -> NetSpec:
    """ResNet-`layers` at 224x224."""
    bottleneck = layers >= 50
    widths = (256, 512, 1024, 2048) if bottleneck else (64, 128, 256, 512)
    stages = tuple(
        Stage("bottleneck" if bottleneck else "basic", repeats, 3, 1 if i == 0 else 2, width,
              expand=0.25 if bottleneck else 1.0)
        for i, (repeats, width) in enumerate(zip(DEPTHS[layers], widths)))
    return NetSpec(name=f"resnet{layers}", stem=Stage("conv", 1, 7, 2, 64), stages=stages, head=None,
                   resolution=224, act="relu", bn_eps=1e-5, family="resnet", stem_pool=True)


register_family("resnet", TrainingDefaults(dropout=0.0, drop_path=0.0, bn_momentum=0.1))  # torchvision's
for _layers in DEPTHS:
    register(f"resnet{_layers}", partial(resnet, _layers))
