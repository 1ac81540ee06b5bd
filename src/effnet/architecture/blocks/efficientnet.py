"""The paper's own operators: a plain conv (stem, head, Conv3x3 rows) and MBConv with squeeze-excitation."""

from __future__ import annotations

from torch import nn

from ..cost import Site, Tally
from ..layers import ConvBNAct, MBConv
from ..operators import BlockContext, register_operator
from ..spec import Stage


def _build_conv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return ConvBNAct(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, groups=stage.groups, norm=ctx.norm,
                     act=ctx.act, padding=ctx.padding)


def _count_conv(stage: Stage, site: Site, tally: Tally) -> int:
    return tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride, groups=stage.groups)


def _build_mbconv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return MBConv(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, stage.expand, stage.se, norm=ctx.norm,
                  act=ctx.act, padding=ctx.padding, drop_path=ctx.drop_path, skip=stage.skip)


def _count_mbconv(stage: Stage, site: Site, tally: Tally) -> int:
    mid = int(round(site.in_ch * stage.expand))
    size = site.size
    if stage.expand != 1:
        tally.conv(site.in_ch, mid, 1, size)
    size = tally.conv(mid, mid, stage.kernel, size, site.stride, groups=mid)
    if stage.se > 0:
        squeeze = max(1, int(site.in_ch * stage.se))
        tally.conv(mid, squeeze, 1, 1, bias=True, bn=False)
        tally.conv(squeeze, mid, 1, 1, bias=True, bn=False)
    return tally.conv(mid, stage.channels, 1, size)


register_operator("conv", build=_build_conv, count=_count_conv)
register_operator("mbconv", build=_build_mbconv, count=_count_mbconv)
