"""SqueezeNet's fire module (Iandola et al. 2016): squeeze 1x1 -> (expand 1x1 | expand 3x3) concatenated.

SqueezeNet has no BatchNorm: every conv has a bias and a ReLU. `channels` is the concatenated output
(half 1x1, half 3x3), `expand` the squeeze ratio (0.125 in both versions). A fire stage with stride 2 starts
with the network's 3x3/2 ceil-mode max-pool, which is how SqueezeNet downsamples. `sqzstem` is the unpadded
strided conv + ReLU + max-pool that opens the network."""

from __future__ import annotations

import torch
from torch import nn

from ..cost import Site, Tally, pool_size
from ..layers import make_act
from ..operators import BlockContext, register_operator
from ..spec import Stage


def _conv(in_ch: int, out_ch: int, kernel: int, act: str, stride: int = 1, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(in_ch, out_ch, kernel, stride, padding), make_act(act))


class Fire(nn.Module):
    """Squeeze to `squeeze` channels, expand to `out_ch` (1x1 and kxk halves), optionally pooled first."""

    def __init__(self, in_ch: int, out_ch: int, squeeze: int, kernel: int, stride: int, act: str) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(3, stride, ceil_mode=True) if stride > 1 else nn.Identity()
        self.squeeze = _conv(in_ch, squeeze, 1, act)
        self.expand1 = _conv(squeeze, out_ch // 2, 1, act)
        self.expand3 = _conv(squeeze, out_ch - out_ch // 2, kernel, act, padding=(kernel - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.squeeze(self.pool(x))
        return torch.cat((self.expand1(x), self.expand3(x)), dim=1)


def squeeze_width(stage: Stage) -> int:
    return max(1, int(round(stage.channels * stage.expand)))


def _fire(stage: Stage, ctx: BlockContext) -> nn.Module:
    return Fire(ctx.in_ch, stage.channels, squeeze_width(stage), stage.kernel, ctx.stride, ctx.act)


def _sqzstem(stage: Stage, ctx: BlockContext) -> nn.Module:
    return nn.Sequential(_conv(ctx.in_ch, stage.channels, stage.kernel, ctx.act, ctx.stride),
                         nn.MaxPool2d(3, 2, ceil_mode=True))


def _count_fire(stage: Stage, site: Site, tally: Tally) -> int:
    size = pool_size(site.size, 3, site.stride, ceil=True) if site.stride > 1 else site.size
    squeeze = squeeze_width(stage)
    tally.conv(site.in_ch, squeeze, 1, size, bias=True, bn=False)
    tally.conv(squeeze, stage.channels // 2, 1, size, bias=True, bn=False)
    return tally.conv(squeeze, stage.channels - stage.channels // 2, stage.kernel, size, bias=True, bn=False)


def _count_sqzstem(stage: Stage, site: Site, tally: Tally) -> int:
    size = tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride, bias=True, bn=False, pad=0)
    return pool_size(size, 3, 2, ceil=True)


def _sqzstem_reduction(stage: Stage, stride: int) -> int:
    return stride * 2  # the conv's stride, then the 3x3/2 max-pool


register_operator("fire", build=_fire, count=_count_fire)
register_operator("sqzstem", build=_sqzstem, count=_count_sqzstem, reduction=_sqzstem_reduction)
