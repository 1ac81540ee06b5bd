"""Top-1 / top-5 / per-class accuracy of a model (and its EMA) on a dataset; works across DDP ranks."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from .train.distributed import DistInfo, all_reduce_sum


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
            from .errors import InputError

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


def load_for_eval(weights: str | Path | None, model: str | None = None, *, num_classes: int | None = None,
                  pretrained: bool = False, **model_options: Any) -> dict[str, nn.Module]:
    """Models to evaluate: {"model": ..., "ema": ...} from a trainer checkpoint, a `save_pretrained` folder,
    any supported weights file (with `model`), or the registered pretrained weights."""

    from .build import build
    from .errors import WeightsError
    from .models import create_model
    from .spec import NetSpec
    from .train.checkpoint import is_trainer_checkpoint, load_checkpoint
    from .weights import from_pretrained, load_weights

    if weights is None:
        if not (model and pretrained):
            raise WeightsError("eval needs --weights FILE|DIR, or --model NAME --pretrained")
        return {"model": create_model(model, num_classes=num_classes or 1000, pretrained=True, **model_options)}
    path = Path(weights)
    if not path.exists():
        raise FileNotFoundError(f"no weights at {path}")
    if path.is_dir():
        return {"model": from_pretrained(path)}
    if is_trainer_checkpoint(path):
        import json

        data = load_checkpoint(path)
        spec = NetSpec.from_dict(json.loads(data["spec"]))
        if model is not None:
            from .models import resolve_spec

            wanted = resolve_spec(model, **model_options)
            if wanted.to_dict() != spec.to_dict():
                raise WeightsError(f"{path} holds a {data.get('model')!r} checkpoint ({spec.name}), not {model!r} "
                                   "with these options; drop --model to use the checkpoint's own spec")
        out = {}
        for key, state in (("model", data["model_state"]), ("ema", data.get("ema_state"))):
            if state is None:
                continue
            net = build(spec, int(data["num_classes"]))
            if key == "ema":
                state = {k[len("module."):]: v for k, v in state.items() if k.startswith("module.")}
            net.load_state_dict(state)
            out[key] = net
        return out
    if model is None:
        raise WeightsError(f"{path} is a plain weights file: pass --model NAME so the network can be built")
    net = create_model(model, num_classes=num_classes or 1000, **model_options)
    load_weights(net, path)
    return {"model": net}
