"""SqueezeNet 1.0 and 1.1 (Iandola et al. 2016): an unpadded strided conv + max-pool, fire modules with
max-pools between them, no BatchNorm.

Differs from torchvision on purpose in one place: torchvision classifies with dropout -> 1x1 conv (512 ->
classes) -> ReLU -> global pool; here it is the shared pool -> dropout -> Linear. The parameter count is the
same (torchvision `squeezenet1_0` 1,248,424, `squeezenet1_1` 1,235,496), but the classifier costs 512 x
classes MACs instead of 13 x 13 x 512 x classes, so our MACs are 86.0M lower than torchvision's figures.
Depth scaling repeats the fire modules of each stage (a stage is a run of fires with one width; a stage with
stride 2 starts with a max-pool)."""

from __future__ import annotations

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family


def _fires(rows: tuple[tuple[int, int, int], ...]) -> tuple[Stage, ...]:
    return tuple(Stage("fire", repeats, 3, stride, channels, expand=0.125) for repeats, stride, channels in rows)


def squeezenet1_0() -> NetSpec:
    """SqueezeNet 1.0: 7x7/2 stem with 96 channels, fires 2-9 with pools after fire 4 and fire 8."""
    stages = _fires(((2, 1, 128), (1, 1, 256), (1, 2, 256), (2, 1, 384), (1, 1, 512), (1, 2, 512)))
    return _spec("squeezenet1-0", Stage("sqzstem", 1, 7, 2, 96), stages)


def squeezenet1_1() -> NetSpec:
    """SqueezeNet 1.1: 3x3/2 stem with 64 channels, pools after fire 3 and fire 5 (2.4x fewer MACs)."""
    stages = _fires(((2, 1, 128), (2, 2, 256), (2, 2, 384), (2, 1, 512)))
    return _spec("squeezenet1-1", Stage("sqzstem", 1, 3, 2, 64), stages)


def _spec(name: str, stem: Stage, stages: tuple[Stage, ...]) -> NetSpec:
    return NetSpec(name=name, stem=stem, stages=stages, head=None, resolution=224, act="relu", bn_eps=1e-5,
                   family="squeezenet")


register_family("squeezenet", TrainingDefaults(dropout=0.5, drop_path=0.0, bn_momentum=0.1))  # torchvision's
register("squeezenet1-0", squeezenet1_0)
register("squeezenet1-1", squeezenet1_1)
