"""Xception (Chollet 2017) blocks: separable convs (depthwise kxk then pointwise 1x1, no BN in between).

`xentry` / `xmiddle` / `xexit` are the residual blocks of the entry, middle and exit flows: 2, 3 and 2
ReLU -> separable conv -> BN layers, a 3x3/2 max-pool when strided and a 1x1 conv + BN shortcut when the shape
changes. Entry and middle blocks widen in their first conv, the exit block in its last. `sepconv` is one
separable conv -> BN -> ReLU (the exit flow's last two layers); `vconv` is an unpadded conv -> BN -> ReLU (the
stem). The first entry block of the original starts without a ReLU; its input is already ReLU'd, so starting
with one is the same function."""

from __future__ import annotations

import torch
from torch import nn

from ..cost import Site, Tally, pool_size
from ..layers import DropPath, make_act
from ..operators import BlockContext, register_operator
from ..spec import Stage

_LAYERS = {"xentry": (2, True), "xmiddle": (3, True), "xexit": (2, False)}  # (separable convs, widen first)


class SeparableConv(nn.Module):
    """Depthwise kxk conv then pointwise 1x1 conv, both without bias."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int) -> None:
        super().__init__()
        self.dw = nn.Conv2d(in_ch, in_ch, kernel, 1, (kernel - 1) // 2, groups=in_ch, bias=False)
        self.pw = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw(self.dw(x))


def _widths(op: str, in_ch: int, out_ch: int) -> list[tuple[int, int]]:
    layers, grow_first = _LAYERS[op]
    if grow_first:
        return [(in_ch if i == 0 else out_ch, out_ch) for i in range(layers)]
    return [(in_ch, in_ch if i < layers - 1 else out_ch) for i in range(layers)]


class XceptionBlock(nn.Module):
    """Residual block of separable convs; see the module docstring."""

    def __init__(self, op: str, in_ch: int, out_ch: int, kernel: int, stride: int, ctx: BlockContext) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for cin, cout in _widths(op, in_ch, out_ch):
            act = make_act(ctx.act)
            if not layers and hasattr(act, "inplace"):
                act.inplace = False  # the shortcut still reads the block input
            layers += [act, SeparableConv(cin, cout, kernel), ctx.norm(cout)]
        if stride > 1:
            layers.append(nn.MaxPool2d(3, stride, 1))
        self.body = nn.Sequential(*layers)
        project = stride != 1 or in_ch != out_ch
        self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False),
                                      ctx.norm(out_ch)) if project else nn.Identity()
        self.drop_path = DropPath(ctx.drop_path)

    def zero_init_last(self) -> None:
        """Start the separable-conv branch at zero (its last BN gamma): the block starts as its shortcut."""
        last = [m for m in self.body if isinstance(m, nn.BatchNorm2d)][-1]
        nn.init.zeros_(last.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.body(x)) + self.shortcut(x)


def _make(op: str) -> None:
    """Register the builder and the cost formula of one Xception flow block."""

    def factory(stage: Stage, ctx: BlockContext) -> nn.Module:
        return XceptionBlock(op, ctx.in_ch, stage.channels, stage.kernel, ctx.stride, ctx)

    def counter(stage: Stage, site: Site, tally: Tally) -> int:
        for cin, cout in _widths(op, site.in_ch, stage.channels):
            tally.conv(cin, cin, stage.kernel, site.size, groups=cin, bn=False)
            tally.conv(cin, cout, 1, site.size)
        if site.stride != 1 or site.in_ch != stage.channels:
            tally.conv(site.in_ch, stage.channels, 1, site.size, site.stride)
        return pool_size(site.size, 3, site.stride, 1) if site.stride > 1 else site.size

    register_operator(op, build=factory, count=counter)


for _op in _LAYERS:
    _make(_op)


def _sepconv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return nn.Sequential(SeparableConv(ctx.in_ch, stage.channels, stage.kernel), ctx.norm(stage.channels),
                         make_act(ctx.act))


def _count_sepconv(stage: Stage, site: Site, tally: Tally) -> int:
    tally.conv(site.in_ch, site.in_ch, stage.kernel, site.size, groups=site.in_ch, bn=False)
    return tally.conv(site.in_ch, stage.channels, 1, site.size)


class ValidConvBNAct(nn.Module):
    """Unpadded conv -> BN -> activation (Xception's stem convs)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, ctx: BlockContext) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, 0, bias=False)
        self.bn = ctx.norm(out_ch)
        self.act = make_act(ctx.act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _vconv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return ValidConvBNAct(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, ctx)


def _count_vconv(stage: Stage, site: Site, tally: Tally) -> int:
    return tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride, pad=0)


register_operator("sepconv", build=_sepconv, count=_count_sepconv)
register_operator("vconv", build=_vconv, count=_count_vconv)
