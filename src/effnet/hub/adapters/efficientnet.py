"""The EfficientNet family (MBConv blocks with squeeze-excitation) as the foreign libraries lay it out: the stem,
every block in order, the head and the classifier, each a conv + BatchNorm pair or an SE pair of key names.

timm, torchvision and efficientnet_pytorch all name this one family, so their adapters sit beside this file and
are each one walk over `mbconv_blocks`; a naming of another family (say torchvision's ResNet) would get its own
walker here, the way `effnet.architecture.blocks` keeps one file per block family."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from torch import nn

from ...architecture.layers import ConvBNAct, MBConv, SqueezeExcite
from ...errors import WeightsError

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
Pairs = Iterator[tuple[str, str]]


@dataclass(frozen=True)
class Block:
    """One MBConv block of an effnet model: its key prefix, where it sits, and which optional parts it has."""

    ours: str  # "stages.{stage}.{index}"
    stage: int
    index: int  # within its stage
    number: int  # counted over the whole network
    expands: bool  # has a 1x1 expansion conv (expand ratio != 1)
    squeezes: bool  # has squeeze-excitation


def conv_bn(ours: str, conv: str, bn: str) -> Pairs:
    """Key pairs of a ConvBNAct `ours` stored as a conv named `conv` and a BatchNorm named `bn`."""
    yield f"{ours}.conv.weight", f"{conv}.weight"
    for key in BN_KEYS:
        yield f"{ours}.bn.{key}", f"{bn}.{key}"


def squeeze_excite(ours: str, reduce: str, expand: str) -> Pairs:
    """Key pairs of a SqueezeExcite `ours` stored as two biased 1x1 convs (or linears) `reduce` and `expand`."""
    for key in ("weight", "bias"):
        yield f"{ours}.reduce.{key}", f"{reduce}.{key}"
        yield f"{ours}.expand.{key}", f"{expand}.{key}"


def classifier(theirs: str) -> Pairs:
    """Key pairs of the final linear classifier, stored as `theirs`."""
    for key in ("weight", "bias"):
        yield f"classifier.{key}", f"{theirs}.{key}"


def mbconv_blocks(model: nn.Module) -> list[Block]:
    """Every block of an EfficientNet-style effnet model, in order; a one-line `WeightsError` for another shape."""
    stem, head, stages = (getattr(model, name, None) for name in ("stem", "head", "stages"))
    if not isinstance(stages, nn.ModuleList | nn.Sequential):
        raise WeightsError("this model's stem/head do not match the EfficientNet layout of foreign checkpoints")
    blocks = []
    for i, stage in enumerate(stages):
        for j, block in enumerate(stage):
            if not isinstance(block, MBConv):
                raise WeightsError("timm/torchvision/efficientnet_pytorch checkpoints can only be mapped onto "
                                   f"EfficientNet-style models; block stages.{i}.{j} is {type(block).__name__}")
            blocks.append(Block(f"stages.{i}.{j}", i, j, len(blocks), isinstance(block.expand, ConvBNAct),
                                isinstance(block.se, SqueezeExcite)))
    if not isinstance(stem, ConvBNAct) or not isinstance(head, ConvBNAct):
        raise WeightsError("this model's stem/head do not match the EfficientNet layout of foreign checkpoints")
    return blocks


__all__ = ["BN_KEYS", "Block", "classifier", "conv_bn", "mbconv_blocks", "squeeze_excite"]
