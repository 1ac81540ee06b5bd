"""efficientnet_pytorch's naming (lukemelas/EfficientNet-PyTorch, and the EfficientNet-Lite ports built on it):
`_conv_stem`, one flat `_blocks.{number}` list over all stages, `_conv_head`, `_fc`."""

from __future__ import annotations

from torch import nn

from .efficientnet import classifier, conv_bn, mbconv_blocks, squeeze_excite
from .registry import register_naming


def efficientnet_pytorch_names(model: nn.Module) -> dict[str, str]:
    """{effnet key: efficientnet_pytorch key} for an EfficientNet-style model (blocks numbered across stages)."""
    pairs = [*conv_bn("stem", "_conv_stem", "_bn0")]
    for block in mbconv_blocks(model):
        ours, theirs = block.ours, f"_blocks.{block.number}"
        if block.expands:
            pairs += conv_bn(f"{ours}.expand", f"{theirs}._expand_conv", f"{theirs}._bn0")
        pairs += conv_bn(f"{ours}.dw", f"{theirs}._depthwise_conv", f"{theirs}._bn1")
        if block.squeezes:
            pairs += squeeze_excite(f"{ours}.se", f"{theirs}._se_reduce", f"{theirs}._se_expand")
        pairs += conv_bn(f"{ours}.project", f"{theirs}._project_conv", f"{theirs}._bn2")
    pairs += conv_bn("head", "_conv_head", "_bn1")
    pairs += classifier("_fc")
    return dict(pairs)


EFFICIENTNET_PYTORCH = register_naming("efficientnet_pytorch", names=efficientnet_pytorch_names,
                                       markers=("_conv_stem.weight",))
