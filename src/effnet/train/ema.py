"""Exponential moving average of a model's weights (paper: decay 0.9999), with TF's warm-up of the decay."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ModelEma(nn.Module):
    """Keeps `module`, an averaged copy of the model. With `warmup`, the decay used at update n is
    min(decay, (1 + n) / (10 + n)), so early averages are not dominated by the random initialisation.
    Floating-point buffers (BN running mean and variance) are averaged like the weights, as the TF reference
    averages its moving statistics: statistics copied from the live model belong to the live weights, and paired
    with averaged weights they made the EMA model collapse while the live one was still learning fast. Integer
    buffers (`num_batches_tracked`) are copied."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, warmup: bool = True) -> None:
        super().__init__()
        self.module = copy.deepcopy(model).eval()
        for param in self.module.parameters():
            param.requires_grad_(False)
        self.decay, self.warmup = decay, warmup
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        n = int(self.updates)
        return min(self.decay, (1 + n) / (10 + n)) if self.warmup else self.decay

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """One EMA step towards `model`'s current weights."""
        decay = self.current_decay()
        ema_state = self.module.state_dict()
        for name, value in model.state_dict().items():
            target = ema_state[name]
            if target.dtype.is_floating_point:
                target.lerp_(value.detach().to(target.dtype), 1.0 - decay)
            else:
                target.copy_(value)
        self.updates += 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)
