"""Inference path: an eval-mode copy of a model with every BatchNorm folded into the convolution before it.

Folding is exact algebra (conv followed by an affine per-channel map is one conv with a bias), so the folded
model computes the same function; only float rounding differs (well under 1e-4 on logits)."""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from .layers import ConvBNAct


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new `nn.Conv2d` (with bias) equal to `bn(conv(x))` for an eval-mode BatchNorm; computed in float64."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics")
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    var, mean = bn.running_var.double(), bn.running_mean.double()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)
    fused.weight.copy_((conv.weight.double() * scale.reshape(-1, 1, 1, 1)).to(conv.weight.dtype))
    fused.bias.copy_(((bias - mean) * scale + beta).to(conv.weight.dtype))
    return fused


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.running_mean is not None
            and conv.out_channels == bn.num_features)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold BatchNorms into their convolutions *in place* (eval semantics); returns the number folded.

    Handles `ConvBNAct` (conv -> bn) and any `nn.Sequential` holding a Conv2d directly followed by a
    BatchNorm2d; other BatchNorms are left as they are (still correct, just not folded)."""
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, ConvBNAct) and _foldable(module.conv, module.bn):
            module.conv = fuse_conv_bn(module.conv, module.bn)
            module.bn = nn.Identity()
            folded += 1
        elif isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in itertools.pairwise(names):
                conv, bn = module._modules[first], module._modules[second]
                if conv is not None and bn is not None and _foldable(conv, bn):
                    module._modules[first] = fuse_conv_bn(conv, bn)
                    module._modules[second] = nn.Identity()
                    folded += 1
    return folded


def optimize_for_inference(model: nn.Module, *, channels_last: bool = True, compile: bool = False) -> nn.Module:
    """A fast, numerically equal copy of `model` for inference (the caller's model is not changed).

    The copy is in eval mode with BatchNorm folded into the preceding convs, optionally in channels-last
    memory format, and optionally wrapped by `torch.compile` (the compiled module still exposes
    `forward_features`/`forward_head`, which then run uncompiled)."""
    was_training = model.training
    model.eval()
    try:
        fast = copy.deepcopy(model)
    finally:
        model.train(was_training)
    for param in fast.parameters():
        param.requires_grad_(False)
    fold_batchnorm(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    fast.eval()
    if compile:
        return torch.compile(fast)  # type: ignore[return-value]
    return fast


__all__ = ["fold_batchnorm", "fuse_conv_bn", "optimize_for_inference"]
