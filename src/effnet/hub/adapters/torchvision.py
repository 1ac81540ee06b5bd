"""torchvision's EfficientNet naming (`features.0` the stem, `features.{stage + 1}.{index}.block.{part}`, the last
`features` entry the head, `classifier.1` the linear layer after dropout)."""

from __future__ import annotations

from torch import nn

from .efficientnet import classifier, conv_bn, mbconv_blocks, squeeze_excite
from .registry import register_naming


def torchvision_names(model: nn.Module) -> dict[str, str]:
    """{effnet key: torchvision key} for an EfficientNet-style model; a block's parts are numbered in order
    (expansion if any, depthwise, SE if any, projection), each conv part a `(conv, bn)` pair."""
    blocks = mbconv_blocks(model)
    pairs = [*conv_bn("stem", "features.0.0", "features.0.1")]
    for block in blocks:
        ours, theirs = block.ours, f"features.{block.stage + 1}.{block.index}.block"
        part = 0
        if block.expands:
            pairs += conv_bn(f"{ours}.expand", f"{theirs}.0.0", f"{theirs}.0.1")
            part = 1
        pairs += conv_bn(f"{ours}.dw", f"{theirs}.{part}.0", f"{theirs}.{part}.1")
        if block.squeezes:
            part += 1
            pairs += squeeze_excite(f"{ours}.se", f"{theirs}.{part}.fc1", f"{theirs}.{part}.fc2")
        pairs += conv_bn(f"{ours}.project", f"{theirs}.{part + 1}.0", f"{theirs}.{part + 1}.1")
    last = len(model.stages) + 1
    pairs += conv_bn("head", f"features.{last}.0", f"features.{last}.1")
    pairs += classifier("classifier.1")
    return dict(pairs)


TORCHVISION = register_naming("torchvision", names=torchvision_names, markers=("features.0.0.weight",))
