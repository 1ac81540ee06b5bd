"""timm's EfficientNet naming (`conv_stem`, `blocks.{stage}.{index}`, `conv_head`, `classifier`), as used by its
`efficientnet_*` and `tf_efficientnet_*` models."""

from __future__ import annotations

from torch import nn

from .efficientnet import classifier, conv_bn, mbconv_blocks, squeeze_excite
from .registry import register_naming


def timm_names(model: nn.Module) -> dict[str, str]:
    """{effnet key: timm key} for an EfficientNet-style model; a block without expansion is timm's DepthwiseSeparable
    (conv_dw, conv_pw), one with expansion its InvertedResidual (conv_pw, conv_dw, conv_pwl)."""
    pairs = [*conv_bn("stem", "conv_stem", "bn1")]
    for block in mbconv_blocks(model):
        ours, theirs = block.ours, f"blocks.{block.stage}.{block.index}"
        if block.expands:
            pairs += conv_bn(f"{ours}.expand", f"{theirs}.conv_pw", f"{theirs}.bn1")
            pairs += conv_bn(f"{ours}.dw", f"{theirs}.conv_dw", f"{theirs}.bn2")
            pairs += conv_bn(f"{ours}.project", f"{theirs}.conv_pwl", f"{theirs}.bn3")
        else:
            pairs += conv_bn(f"{ours}.dw", f"{theirs}.conv_dw", f"{theirs}.bn1")
            pairs += conv_bn(f"{ours}.project", f"{theirs}.conv_pw", f"{theirs}.bn2")
        if block.squeezes:
            pairs += squeeze_excite(f"{ours}.se", f"{theirs}.se.conv_reduce", f"{theirs}.se.conv_expand")
    pairs += conv_bn("head", "conv_head", "bn2")
    pairs += classifier("classifier")
    return dict(pairs)


TIMM = register_naming("timm", names=timm_names, markers=("conv_stem.weight",))
