"""Top-1 / top-5 / per-class accuracy of a model (and its EMA) on a dataset; works across DDP ranks."""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from ..errors import InputError
from .distributed import DistInfo, all_reduce_sum


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, *, num_classes: int, device: str | torch.device = "cpu",
             info: DistInfo | None = None, amp_dtype: torch.dtype | None = None, channels_last: bool = False,
             classes: list[str] | None = None) -> dict[str, Any]:
    """Mean cross-entropy, top-1 and top-5 accuracy (percent), and per-class top-1 over `loader`."""
    info = info or DistInfo()
    was_training = model.training
    model.eval()
    device = torch.device(device)
    stats = torch.zeros(4 + 2 * num_classes, dtype=torch.float64, device=device)
    for images, targets in loader:
        images, targets = images.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = (torch.autocast(device.type, dtype=amp_dtype) if amp_dtype is not None
                    else contextlib.nullcontext())
        with autocast:
            logits = model(images)
        logits = logits.float()
        if logits.shape[1] < num_classes:
            raise InputError(f"the model has {logits.shape[1]} outputs but the data has {num_classes} classes")
        k = min(5, logits.shape[1])
        top = logits.topk(k, dim=1).indices
        hit1 = top[:, 0] == targets
        stats[0] += F.cross_entropy(logits, targets, reduction="sum").double()
        stats[1] += hit1.sum()
        stats[2] += (top == targets[:, None]).any(dim=1).sum()
        stats[3] += len(targets)
        stats[4:4 + num_classes] += torch.bincount(targets[hit1], minlength=num_classes)[:num_classes].double()
        stats[4 + num_classes:] += torch.bincount(targets, minlength=num_classes)[:num_classes].double()
    all_reduce_sum(stats, info)
    model.train(was_training)
    count = max(1.0, float(stats[3]))
    correct, total = stats[4:4 + num_classes].tolist(), stats[4 + num_classes:].tolist()
    names = classes or [str(i) for i in range(num_classes)]
    per_class = {name: (100.0 * c / t if t else None) for name, c, t in zip(names, correct, total)}
    return {"loss": float(stats[0]) / count, "top1": 100.0 * float(stats[1]) / count,
            "top5": 100.0 * float(stats[2]) / count, "count": int(stats[3]), "per_class": per_class}


__all__ = ["evaluate"]
