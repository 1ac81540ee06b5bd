"""`load_weights`: fit a checkpoint in any registered naming (`effnet.hub.adapters`) onto a model -- strict by default,
every problem named in one line, and nothing loaded unless all of it fits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import WeightsError
from ..model.build import zero_classifier
from .adapters import detect_naming, get_naming
from .weight_checks import check_values
from .weights import safe_load, state_dict_of


@dataclass
class LoadReport:
    """What `load_weights` did: detected naming, keys it could not use, and whether the head was reset."""

    format: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    head_reset: bool = False


def _summarise(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor], *, strict: bool = True,
                 reset_head: bool = False, fmt: str | None = None, origin: str | None = None) -> LoadReport:
    """Load a checkpoint (state dict, file or `save_pretrained` directory) in any registered naming (`fmt`, detected
    when None).

    strict (default): every model tensor must come from the checkpoint and every checkpoint tensor must be
    used, with matching shapes -- otherwise a `WeightsError` names the offending keys and nothing is loaded.
    A classifier of another size is an error unless `reset_head=True`, which gives a fresh, zeroed classifier.
    `origin` names the weights in errors (default: the file, or "state dict" for tensors in memory)."""
    if isinstance(source, (str, Path)):
        state = safe_load(source)
        origin = origin or str(source)
    else:
        state = state_dict_of(source)
        origin = origin or "state dict"
    fmt = fmt or detect_naming(state)
    found = get_naming(fmt).rename(model, state)
    renamed, missing, unexpected = found.tensors, list(found.missing), list(found.unused)
    own = model.state_dict()
    # num_batches_tracked is bookkeeping, absent from some exports: never required.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    missing += [k for k in own if k not in renamed and k not in missing and not k.endswith("num_batches_tracked")]
    unexpected += [k for k in renamed if k not in own]
    head_keys = [k for k in own if k.startswith("classifier.")]
    head_reset = False
    head_mismatch = [k for k in head_keys if k in renamed and renamed[k].shape != own[k].shape]
    if not head_keys:  # model built without a classifier (num_classes=0): the checkpoint's head is not needed
        unexpected = [k for k in unexpected if not k.startswith("classifier.") and k not in found.head]
        renamed = {k: v for k, v in renamed.items() if not k.startswith("classifier.")}
    if head_mismatch:
        if not reset_head:
            theirs, ours = renamed[head_mismatch[0]].shape[0], own[head_mismatch[0]].shape[0]
            raise WeightsError(f"{origin}: the checkpoint's classifier has {theirs} outputs but the model has "
                               f"{ours}; pass reset_head=True to start a fresh classifier")
        renamed = {k: v for k, v in renamed.items() if k not in head_keys}
        missing = [k for k in missing if k not in head_keys]
        head_reset = True
    elif reset_head:
        renamed = {k: v for k, v in renamed.items() if k not in head_keys}
        missing = [k for k in missing if k not in head_keys]
        head_reset = True
    mismatched = [f"{k} {tuple(renamed[k].shape)} vs {tuple(own[k].shape)}" for k in renamed
                  if k in own and renamed[k].shape != own[k].shape]
    check_values({k: v for k, v in renamed.items() if k in own}, own, origin)
    if mismatched:
        raise WeightsError(f"{origin} ({fmt} naming) does not fit this model: shape mismatch in "
                           f"{_summarise(mismatched, 3)}")
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_summarise(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_summarise(unexpected)}")
        raise WeightsError(f"{origin} ({fmt} naming) does not fit this model: {'; '.join(parts)}")
    usable = {k: v for k, v in renamed.items() if k in own}
    model.load_state_dict(usable, strict=False)  # strictness was checked above; the rest is deliberate
    if head_reset:
        zero_classifier(model)
    return LoadReport(fmt, len(usable), missing, unexpected, head_reset)


__all__ = ["LoadReport", "load_weights"]
