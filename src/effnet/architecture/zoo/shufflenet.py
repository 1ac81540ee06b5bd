"""ShuffleNetV2 x0.5 / x1.0 (Ma et al. 2018): 3x3/2 stem + max-pool, three stages of shuffle units (4, 8, 4;
the first of each strides), a 1x1 conv to 1024. Parameter counts equal torchvision's `shufflenet_v2_x0_5`
and `shufflenet_v2_x1_0`. Channels round to multiples of 4 when scaled (x1.5 and x2.0 are multiples of 4).
Depth scaling repeats the shuffle units of each stage. ShuffleNet V1's group-conv units are not included."""

from __future__ import annotations

from functools import partial

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

WIDTHS = {"0.5": (48, 96, 192), "1.0": (116, 232, 464)}


def shufflenet_v2(width: str = "1.0") -> NetSpec:
    """ShuffleNetV2 at width `0.5` or `1.0` (the published stage widths)."""
    stages = tuple(Stage("shufflev2", repeats, 3, 2, channels)
                   for repeats, channels in zip((4, 8, 4), WIDTHS[width]))
    return NetSpec(name=f"shufflenet-v2-x{width.replace('.', '-')}", stem=Stage("conv", 1, 3, 2, 24),
                   stages=stages, head=Stage("conv", 1, 1, 1, 1024), resolution=224, act="relu",
                   bn_eps=1e-5, width_divisor=4, family="shufflenet-v2",
                   stem_pool=True)


register_family("shufflenet-v2", TrainingDefaults(dropout=0.0, drop_path=0.0, bn_momentum=0.1))
for _width in WIDTHS:
    register(f"shufflenet-v2-x{_width.replace('.', '-')}", partial(shufflenet_v2, _width))
