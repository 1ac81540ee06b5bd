"""Building blocks, standard `torch.nn` modules only so every model scripts and exports."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .spec import SpecError

NormFactory = Callable[[int], nn.Module]


def make_act(name: str | None) -> nn.Module:
    """Activation module by name; None -> Identity (linear bottleneck)."""
    if name is None:
        return nn.Identity()
    table: dict[str, Callable[[], nn.Module]] = {
        "silu": lambda: nn.SiLU(inplace=True),
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "hardswish": lambda: nn.Hardswish(inplace=True),
        "gelu": nn.GELU,
    }
    if name not in table:
        raise SpecError(f"unknown activation {name!r}")
    return table[name]()


class SamePad2d(nn.Module):
    """TensorFlow 'SAME' padding (extra pixel at the bottom/right), computed from the input size so it is
    right at every resolution; used only where it differs from symmetric padding (stride > 1)."""

    def __init__(self, kernel: int, stride: int, dilation: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride, self.dilation = kernel, stride, dilation

    def _amount(self, size: int) -> int:
        out = (size + self.stride - 1) // self.stride
        return max((out - 1) * self.stride + (self.kernel - 1) * self.dilation + 1 - size, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self._amount(x.shape[-2]), self._amount(x.shape[-1])
        if pad_h == 0 and pad_w == 0:
            return x
        return nn.functional.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])


class ConvBNAct(nn.Module):
    """Conv (no bias) -> BatchNorm -> activation; `act=None` gives a linear projection."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, *, groups: int = 1,
                 norm: NormFactory, act: str | None = None, padding: str = "symmetric") -> None:
        super().__init__()
        same = padding == "same" and stride > 1
        self.pad = SamePad2d(kernel, stride) if same else nn.Identity()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, 0 if same else (kernel - 1) // 2,
                              groups=groups, bias=False)
        self.bn = norm(out_ch)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(self.pad(x))))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation: global pool -> 1x1 reduce -> act -> 1x1 expand -> sigmoid gate."""

    def __init__(self, channels: int, squeeze: int, act: str) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, squeeze, 1)
        self.act = make_act(act)
        self.expand = nn.Conv2d(squeeze, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.expand(self.act(self.reduce(scale))))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop a residual branch per sample with probability `rate`
    during training, scaling survivors by 1 / (1 - rate)."""

    def __init__(self, rate: float = 0.0) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = torch.empty((x.shape[0],) + (1,) * (x.dim() - 1), dtype=x.dtype, device=x.device)
        return x * mask.bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f"rate={self.rate:.4f}"


class MBConv(nn.Module):
    """Mobile inverted bottleneck (MobileNetV2/MnasNet) with optional SE, as in paper Table 1.

    expand 1x1 -> dw kxk (stride here) -> SE (width from the block *input*) -> project 1x1 (linear);
    residual with stochastic depth only when stride is 1 and channels are unchanged. With expand == 1 there
    is no expansion conv (the paper's MBConv1, a depthwise-separable conv)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: float, se: float, *,
                 norm: NormFactory, act: str, padding: str = "symmetric", drop_path: float = 0.0,
                 skip: bool = True) -> None:
        super().__init__()
        mid = int(round(in_ch * expand))
        self.expand = (ConvBNAct(in_ch, mid, 1, norm=norm, act=act) if expand != 1 else nn.Identity())
        self.dw = ConvBNAct(mid, mid, kernel, stride, groups=mid, norm=norm, act=act, padding=padding)
        self.se = SqueezeExcite(mid, max(1, int(in_ch * se)), act) if se > 0 else nn.Identity()
        self.project = ConvBNAct(mid, out_ch, 1, norm=norm, act=None)
        self.has_skip = skip and stride == 1 and in_ch == out_ch
        self.drop_path_rate = float(drop_path)
        self.drop_path = DropPath(drop_path) if self.has_skip else nn.Identity()

    def zero_init_last(self) -> None:
        """Start the residual branch at zero (its projection's BN gamma), so the block starts as the identity."""
        if self.has_skip:
            nn.init.zeros_(self.project.bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.se(self.dw(self.expand(x))))
        if self.has_skip:
            out = self.drop_path(out) + x
        return out
