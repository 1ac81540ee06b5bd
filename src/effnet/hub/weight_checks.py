"""Value checks on weights: a tensor that loads or saves fine can still be unusable (NaN, infinite, a negative
running variance), and it is named here before it reaches a model or a file."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from ..errors import WeightsError


def check_values(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], origin: str) -> None:
    """Every tensor meant for a floating-point parameter or buffer must be floating-point and finite, and a
    BatchNorm's running variance must not be negative (it is a variance: a negative one gives NaN outputs)."""
    for key, value in state.items():
        if not own[key].is_floating_point():
            continue
        if not value.is_floating_point():
            raise WeightsError(f"{origin}: {key} holds {str(value.dtype).replace('torch.', '')} values where "
                               "floating-point weights are expected")
        problem = tensor_problem(key, value)
        if problem:
            raise WeightsError(f"{origin}: {key} holds {problem}")


def tensor_problem(key: str, value: torch.Tensor) -> str | None:
    """What is wrong with one floating-point weight: NaN or infinite values, or a negative running variance."""
    if not bool(torch.isfinite(value).all()):
        return "NaN or infinite values"
    if key.endswith("running_var") and bool((value < 0).any()):
        return "negative variances"
    return None


def state_problem(module: nn.Module) -> str | None:
    """The first weight or statistic of a module that could not be saved or used (see `tensor_problem`), named."""
    for key, value in module.state_dict().items():
        if value.is_floating_point():
            problem = tensor_problem(key, value)
            if problem:
                return f"{key} holds {problem}"
    return None


__all__ = ["check_values", "state_problem", "tensor_problem"]
