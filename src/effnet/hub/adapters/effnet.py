"""effnet's own naming, the identity adapter: a state dict from `save_pretrained`, `model.state_dict()` or a
trainer checkpoint already uses the model's keys, whatever its operators (it is the only naming that is not tied to
the EfficientNet family)."""

from __future__ import annotations

from torch import nn

from .registry import register_naming


def effnet_names(model: nn.Module) -> dict[str, str]:
    """{key: key} for every tensor of the model."""
    return {key: key for key in model.state_dict()}


EFFNET = register_naming("effnet", names=effnet_names, markers=("stem.conv.weight",), prefixes=("stem.", "stages."))
