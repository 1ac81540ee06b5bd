"""Shared fixtures: the paper's and peer libraries' reference figures (copied from shared/reference)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

REFERENCE = Path(__file__).parent / "reference"

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(scope="session")
def anchors() -> dict:
    return json.loads((REFERENCE / "anchors.json").read_text())


@pytest.fixture(scope="session")
def paper() -> dict:
    return json.loads((REFERENCE / "paper.json").read_text())


def randomize_batchnorm(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial statistics and affine parameters, so parity tests can fail."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    return model
