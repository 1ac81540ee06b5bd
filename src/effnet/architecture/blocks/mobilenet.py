"""MobileNetV1's depthwise-separable conv: depthwise kxk -> BN -> act -> pointwise 1x1 -> BN -> act."""

from __future__ import annotations

import torch
from torch import nn

from ..cost import Site, Tally
from ..layers import ConvBNAct
from ..operators import BlockContext, register_operator
from ..spec import Stage


class DepthwiseSeparable(nn.Module):
    """Howard et al. 2017, Fig. 3 right: both convs are followed by BatchNorm and the activation."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, ctx: BlockContext) -> None:
        super().__init__()
        self.dw = ConvBNAct(in_ch, in_ch, kernel, stride, groups=in_ch, norm=ctx.norm, act=ctx.act,
                            padding=ctx.padding)
        self.pw = ConvBNAct(in_ch, out_ch, 1, norm=ctx.norm, act=ctx.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


def _dwsep(stage: Stage, ctx: BlockContext) -> nn.Module:
    return DepthwiseSeparable(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, ctx)


def _count_dwsep(stage: Stage, site: Site, tally: Tally) -> int:
    size = tally.conv(site.in_ch, site.in_ch, stage.kernel, site.size, site.stride, groups=site.in_ch)
    return tally.conv(site.in_ch, stage.channels, 1, size)


register_operator("dwsep", build=_dwsep, count=_count_dwsep)
