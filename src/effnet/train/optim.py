"""Optimizers and learning-rate schedules of the recipes: RMSProp in TensorFlow's form, no weight decay on
BN/bias, linear lr scaling with the batch, linear warm-up then x0.97 every 2.4 epochs (or cosine)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from .recipe import Recipe


class RMSpropTF(torch.optim.Optimizer):
    """RMSProp as TensorFlow computes it (what the paper used):

    ms = ms + (1 - decay) * (g^2 - ms)   with ms initialised to 1 (PyTorch: 0)
    mom = momentum * mom + lr * g / sqrt(ms + eps)   (eps inside the sqrt; lr folded into the buffer)
    p = p - mom
    L2 weight decay is added to the gradient first, as TF's regulariser loss does."""

    def __init__(self, params: Iterable, lr: float = 0.01, decay: float = 0.9, momentum: float = 0.9,
                 eps: float = 1e-3, weight_decay: float = 0.0) -> None:
        if lr < 0 or not 0 <= decay < 1 or momentum < 0 or eps <= 0 or weight_decay < 0:
            raise ValueError("RMSpropTF needs lr >= 0, 0 <= decay < 1, momentum >= 0, eps > 0, weight_decay >= 0")
        super().__init__(params, {"lr": lr, "decay": decay, "momentum": momentum, "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, decay, momentum = group["lr"], group["decay"], group["momentum"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                if group["weight_decay"]:
                    grad = grad.add(param, alpha=group["weight_decay"])
                state = self.state[param]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["square_avg"] = torch.ones_like(param)
                    state["momentum_buffer"] = torch.zeros_like(param)
                state["step"] += 1
                square_avg = state["square_avg"]
                square_avg.add_(grad.square() - square_avg, alpha=1.0 - decay)
                update = grad / square_avg.add(group["eps"]).sqrt_()
                if momentum > 0:
                    buffer = state["momentum_buffer"]
                    buffer.mul_(momentum).add_(update, alpha=lr)
                    param.sub_(buffer)
                else:
                    param.sub_(update, alpha=lr)
        return loss


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights of convs/linears get `weight_decay`; BN parameters and biases (ndim <= 1) get none."""
    decay, no_decay = [], []
    for _, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim <= 1 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, recipe: Recipe, global_batch: int) -> torch.optim.Optimizer:
    """The recipe's optimizer with its lr scaled linearly to `global_batch`."""
    lr = recipe.scaled_lr(global_batch)
    groups = param_groups(model, recipe.weight_decay)
    if recipe.optimizer == "rmsproptf":
        return RMSpropTF(groups, lr=lr, decay=recipe.rms_decay, momentum=recipe.momentum, eps=recipe.eps)
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=recipe.momentum, nesterov=recipe.momentum > 0)
    return torch.optim.AdamW(groups, lr=lr, eps=1e-8)


def lr_factor(step: int, steps_per_epoch: int, recipe: Recipe, total_steps: int) -> float:
    """Multiplier of the base lr after `step` optimizer steps: linear warm-up, then the recipe's schedule."""
    warmup = int(round(recipe.warmup_epochs * steps_per_epoch))
    if step < warmup:
        return (step + 1) / warmup
    if recipe.schedule == "constant":
        return 1.0
    if recipe.schedule == "step":  # TF's exponential_decay(staircase=True) over epochs
        return recipe.decay_rate ** math.floor(step / (recipe.decay_epochs * steps_per_epoch))
    progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
    floor = recipe.min_lr_ratio
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe, steps_per_epoch: int,
                    epochs: int) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-optimizer-step LambdaLR following `lr_factor` (its state dict holds only plain numbers)."""
    total = steps_per_epoch * epochs
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, steps_per_epoch, recipe, total))
