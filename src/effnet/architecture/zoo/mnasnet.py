"""MnasNet-A1 (Tan et al. 2019), the search space EfficientNet-B0 came from: MBConv stages with SE in three of
them, ReLU, a depthwise-separable first stage without a residual. Parameter count equals timm `mnasnet_a1`
(3,887,038). Depth scaling repeats the MBConv blocks of each stage (1, 2, 3, 4, 2, 3, 1)."""

from __future__ import annotations

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

STAGES = ("mbconv_r1_k3_s1_e1_c16_noskip", "mbconv_r2_k3_s2_e6_c24", "mbconv_r3_k5_s2_e3_c40_se0.25",
          "mbconv_r4_k3_s2_e6_c80", "mbconv_r2_k3_s1_e6_c112_se0.25", "mbconv_r3_k5_s2_e6_c160_se0.25",
          "mbconv_r1_k3_s1_e6_c320")


def mnasnet_a1() -> NetSpec:
    """MnasNet-A1 1.0 at 224x224."""
    return NetSpec(name="mnasnet-a1", stem=Stage("conv", 1, 3, 2, 32),
                   stages=tuple(Stage.decode(row) for row in STAGES), head=Stage("conv", 1, 1, 1, 1280),
                   resolution=224, act="relu", bn_eps=1e-5, family="mnasnet")


register_family("mnasnet", TrainingDefaults(dropout=0.2, drop_path=0.0, bn_momentum=0.1))  # timm / torchvision
register("mnasnet-a1", mnasnet_a1)
