"""Analytic cost primitives: the running tally that operators' cost formulas add their layers to.

Conventions (the paper's "FLOPS" are multiply-adds, and torchvision's `gmacs` count the same thing):
- `macs`: multiply-accumulates of every Conv2d and Linear layer (k*k*C_in/groups per output element; a Linear
  counts in*out). Biases, BatchNorm, activations, pooling, SE gating and residual adds are not counted.
- `params`: every trainable parameter (conv/linear weights and biases, BatchNorm affine weights).
- `activations`: elements of the output of every Conv2d and Linear layer for one image (Dollar et al. 2021's
  memory-relevant figure; BN/activation outputs of the same shape are not counted again)."""

from __future__ import annotations

from dataclasses import dataclass

from .spec import SpecError


@dataclass(frozen=True)
class Site:
    """Where a block sits: input channels, input size and its stride (only the first repeat strides)."""

    in_ch: int
    size: int
    stride: int


class Tally:
    """Running totals of one part of a network; cost formulas add their layers here."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0
        self.activations = 0

    def conv(self, cin: int, cout: int, kernel: int, size: int, stride: int = 1, *, groups: int = 1,
             bias: bool = False, bn: bool = True, pad: int | None = None) -> int:
        """Count a square Conv2d (+ BatchNorm); return its output size."""
        pad = (kernel - 1) // 2 if pad is None else pad
        out = (size + 2 * pad - kernel) // stride + 1
        if out < 1:
            raise SpecError(f"a {kernel}x{kernel} conv gets a {size}x{size} input: the resolution is too small")
        weights = cout * (cin // groups) * kernel * kernel
        self.params += weights + (cout if bias else 0) + (2 * cout if bn else 0)
        self.macs += out * out * weights
        self.activations += out * out * cout
        return out

    def linear(self, cin: int, cout: int) -> None:
        """Count a Linear layer with bias applied to a vector."""
        self.params += cin * cout + cout
        self.macs += cin * cout
        self.activations += cout

    def add(self, other: Tally, times: int = 1) -> None:
        self.params += other.params * times
        self.macs += other.macs * times
        self.activations += other.activations * times


def pool_size(size: int, kernel: int, stride: int, pad: int = 0, ceil: bool = False) -> int:
    """Output size of a max/avg pool (PyTorch's formula, including ceil_mode)."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        raise SpecError(f"a {kernel}x{kernel} pool gets a {size}x{size} input: the resolution is too small")
    return out


__all__ = ["Site", "Tally", "pool_size"]
