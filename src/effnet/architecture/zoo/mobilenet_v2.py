"""MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks (MBConv without SE), ReLU6.

Parameter count equals torchvision `mobilenet_v2` (3,504,872). Note torchvision never narrows the 1280-channel
head below 1280 for width < 1; `effnet.scale` scales it like every other width (paper Eq. 2).
Depth scaling repeats the inverted-residual blocks of each stage (1, 2, 3, 4, 3, 3, 1)."""

from __future__ import annotations

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

STAGES = ("mbconv_r1_k3_s1_e1_c16", "mbconv_r2_k3_s2_e6_c24", "mbconv_r3_k3_s2_e6_c32", "mbconv_r4_k3_s2_e6_c64",
          "mbconv_r3_k3_s1_e6_c96", "mbconv_r3_k3_s2_e6_c160", "mbconv_r1_k3_s1_e6_c320")


def mobilenet_v2() -> NetSpec:
    """MobileNetV2 1.0 at 224x224 (torchvision layout and BN settings)."""
    return NetSpec(name="mobilenet-v2", stem=Stage("conv", 1, 3, 2, 32),
                   stages=tuple(Stage.decode(row) for row in STAGES), head=Stage("conv", 1, 1, 1, 1280),
                   resolution=224, act="relu6", bn_eps=1e-5, family="mobilenet-v2")


register_family("mobilenet-v2", TrainingDefaults(dropout=0.2, drop_path=0.0, bn_momentum=0.1))  # torchvision's
register("mobilenet-v2", mobilenet_v2)
