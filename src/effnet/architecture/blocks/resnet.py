"""ResNet's basic (two 3x3) and bottleneck (1x1 -> 3x3 -> 1x1) residual blocks, torchvision's v1.5 layout:
the stride sits on the 3x3 conv; a 1x1 conv + BN projects the shortcut when the shape changes; ReLU after
the addition. For `bottleneck`, `expand` is the inner width as a fraction of the output (0.25 in ResNet-50)."""

from __future__ import annotations

import torch
from torch import nn

from ..cost import Site, Tally
from ..layers import ConvBNAct, DropPath, make_act
from ..operators import BlockContext, register_operator
from ..spec import Stage


class Residual(nn.Module):
    """`body(x) + shortcut(x)`, then the activation; the shortcut is a 1x1 projection when shapes differ."""

    def __init__(self, body: nn.Module, in_ch: int, out_ch: int, stride: int, ctx: BlockContext) -> None:
        super().__init__()
        self.body = body
        project = stride != 1 or in_ch != out_ch
        self.shortcut = ConvBNAct(in_ch, out_ch, 1, stride, norm=ctx.norm) if project else nn.Identity()
        self.drop_path = DropPath(ctx.drop_path)
        self.act = make_act(ctx.act)

    def zero_init_last(self) -> None:
        """Start the body at zero (its last BN gamma): the block starts as act(shortcut(x)) (torchvision's
        `zero_init_residual`)."""
        nn.init.zeros_(self.body[-1].bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop_path(self.body(x)) + self.shortcut(x))


def bottleneck_width(stage: Stage) -> int:
    """Inner width of a bottleneck block: `expand` times the output channels, at least 1."""
    return max(1, int(round(stage.channels * stage.expand)))


def _basic(stage: Stage, ctx: BlockContext) -> nn.Module:
    body = nn.Sequential(
        ConvBNAct(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, norm=ctx.norm, act=ctx.act),
        ConvBNAct(stage.channels, stage.channels, stage.kernel, norm=ctx.norm))
    return Residual(body, ctx.in_ch, stage.channels, ctx.stride, ctx)


def _bottleneck(stage: Stage, ctx: BlockContext) -> nn.Module:
    mid = bottleneck_width(stage)
    body = nn.Sequential(
        ConvBNAct(ctx.in_ch, mid, 1, norm=ctx.norm, act=ctx.act),
        ConvBNAct(mid, mid, stage.kernel, ctx.stride, groups=stage.groups, norm=ctx.norm, act=ctx.act),
        ConvBNAct(mid, stage.channels, 1, norm=ctx.norm))
    return Residual(body, ctx.in_ch, stage.channels, ctx.stride, ctx)


def _count_shortcut(stage: Stage, site: Site, tally: Tally) -> None:
    if site.stride != 1 or site.in_ch != stage.channels:
        tally.conv(site.in_ch, stage.channels, 1, site.size, site.stride)


def _count_basic(stage: Stage, site: Site, tally: Tally) -> int:
    size = tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride)
    tally.conv(stage.channels, stage.channels, stage.kernel, size)
    _count_shortcut(stage, site, tally)
    return size


def _count_bottleneck(stage: Stage, site: Site, tally: Tally) -> int:
    mid = bottleneck_width(stage)
    tally.conv(site.in_ch, mid, 1, site.size)
    size = tally.conv(mid, mid, stage.kernel, site.size, site.stride, groups=stage.groups)
    tally.conv(mid, stage.channels, 1, size)
    _count_shortcut(stage, site, tally)
    return size


register_operator("basic", build=_basic, count=_count_basic)
register_operator("bottleneck", build=_bottleneck, count=_count_bottleneck)
