"""ShuffleNetV2 unit (Ma et al. 2018, Fig. 3c/d): split the channels in two, transform one half with
1x1 -> depthwise kxk -> 1x1, concatenate and shuffle. A unit that strides (or changes width) transforms both
branches instead of splitting."""

from __future__ import annotations

import torch
from torch import nn

from ..cost import Site, Tally
from ..layers import ConvBNAct
from ..operators import BlockContext, register_operator
from ..spec import SpecError, Stage


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of `groups` groups (view as groups x C/groups, transpose, flatten)."""
    return torch.flatten(x.unflatten(1, (groups, -1)).transpose(1, 2), 1, 2)


class ShuffleUnit(nn.Module):
    """One ShuffleNetV2 unit with `out_ch` outputs (each branch gives half)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, ctx: BlockContext) -> None:
        super().__init__()
        if out_ch % 2:
            raise SpecError(f"a shuffle unit needs an even number of output channels, got {out_ch}")
        half = out_ch // 2
        self.split = stride == 1 and in_ch == out_ch
        branch_in = half if self.split else in_ch
        self.left: nn.Module = nn.Identity() if self.split else nn.Sequential(
            ConvBNAct(in_ch, in_ch, kernel, stride, groups=in_ch, norm=ctx.norm, padding=ctx.padding),
            ConvBNAct(in_ch, half, 1, norm=ctx.norm, act=ctx.act))
        self.right = nn.Sequential(
            ConvBNAct(branch_in, half, 1, norm=ctx.norm, act=ctx.act),
            ConvBNAct(half, half, kernel, stride, groups=half, norm=ctx.norm, padding=ctx.padding),
            ConvBNAct(half, half, 1, norm=ctx.norm, act=ctx.act))

    def zero_init_last(self) -> None:
        """A splitting unit starts with its transformed half at zero (the last BN gamma of that branch): the other
        half passes through unchanged, as a residual block's shortcut does."""
        if self.split:
            nn.init.zeros_(self.right[-1].bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split:
            left, right = x.chunk(2, dim=1)
        else:
            left, right = x, x
        return channel_shuffle(torch.cat((self.left(left), self.right(right)), dim=1), 2)


def _shufflev2(stage: Stage, ctx: BlockContext) -> nn.Module:
    return ShuffleUnit(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, ctx)


def _count_shufflev2(stage: Stage, site: Site, tally: Tally) -> int:
    half = stage.channels // 2
    split = site.stride == 1 and site.in_ch == stage.channels
    if not split:
        size = tally.conv(site.in_ch, site.in_ch, stage.kernel, site.size, site.stride, groups=site.in_ch)
        tally.conv(site.in_ch, half, 1, size)
    tally.conv(half if split else site.in_ch, half, 1, site.size)
    size = tally.conv(half, half, stage.kernel, site.size, site.stride, groups=half)
    tally.conv(half, half, 1, size)
    return size


register_operator("shufflev2", build=_shufflev2, count=_count_shufflev2)
