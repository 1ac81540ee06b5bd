"""EfficientNet-B0 for small images (28-32 px: Fashion-MNIST, CIFAR): B0's stages, operators, kernels, widths
and depths, with a total stride of 8 instead of 32.

At 32 px, B0's five stride-2 layers leave 1x1 maps for its last stages (32 / 32): the 5x5 kernels and the
squeeze-excitation see a single pixel. Two downsamplings are removed, as CIFAR-style ResNets keep their 32 px
input at full size in the first stage: the stem (B0: 3x3 stride 2 -> stride 1) and stage 2 (MBConv6 k3x3, 24
channels: stride 2 -> 1). The three stride-2 stages that remain (40, 80 and 192 channels) take a 32 px input to
16, 8 and 4 px, the spatial path B0 has at 128 px. Everything else -- BN eps, SiLU, and the family's training
defaults (dropout 0.2, stochastic depth 0.2, BN momentum 0.01) -- is B0's, so compound scaling and every tool treat
it like any other baseline. Resolution scaling rounds to whole pixels (B0's multiples of 4 px would be 12% steps at
32 px)."""

from __future__ import annotations

from ..spec import NetSpec, Stage
from .efficientnet import efficientnet_b0
from .registry import register

STRIDE_CHANGES = {"stem": (2, 1), "stages.1": (2, 1)}  # (B0's stride, this baseline's stride)


def efficientnet_b0_small() -> NetSpec:
    """B0 with stem and stage-2 strides set to 1 (total stride 8), designed for 32 px inputs."""
    b0 = efficientnet_b0()
    stages = tuple(Stage(**{**stage.__dict__, "stride": 1}) if index == 1 else stage
                   for index, stage in enumerate(b0.stages))
    return b0.replace(name="efficientnet-b0-small", stem=Stage(**{**b0.stem.__dict__, "stride": 1}),
                      stages=stages, resolution=32, resolution_divisor=1, family="efficientnet")


register("efficientnet-b0-small", efficientnet_b0_small)
