"""spec -> nn.Module. One generic builder; each stage operator is a registered block factory."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn

from .layers import ConvBNAct, MBConv, NormFactory
from .spec import NetSpec, SpecError, Stage


@dataclass(frozen=True)
class BlockContext:
    """What a block factory needs besides its stage row."""

    in_ch: int
    stride: int
    drop_path: float
    act: str
    norm: NormFactory
    padding: str


BlockFactory = Callable[[Stage, BlockContext], nn.Module]
BLOCKS: dict[str, BlockFactory] = {}


def register_block(op: str) -> Callable[[BlockFactory], BlockFactory]:
    """Decorator: make `op` usable in stage rows."""

    def add(factory: BlockFactory) -> BlockFactory:
        BLOCKS[op] = factory
        return factory

    return add


@register_block("mbconv")
def _mbconv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return MBConv(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, stage.expand, stage.se, norm=ctx.norm,
                  act=ctx.act, padding=ctx.padding, drop_path=ctx.drop_path, skip=stage.skip)


@register_block("conv")
def _conv(stage: Stage, ctx: BlockContext) -> nn.Module:
    return ConvBNAct(ctx.in_ch, stage.channels, stage.kernel, ctx.stride, groups=stage.groups, norm=ctx.norm,
                     act=ctx.act, padding=ctx.padding)


def _block(stage: Stage, ctx: BlockContext) -> nn.Module:
    if stage.op not in BLOCKS:
        raise SpecError(f"no block is registered for operator {stage.op!r}; known: {', '.join(sorted(BLOCKS))}")
    return BLOCKS[stage.op](stage, ctx)


def feature_levels(spec: NetSpec) -> list[dict[str, int]]:
    """Where the feature pyramid taps the body: the last stage at each stride, with channels and reduction
    (the stride relative to the input, from the analytic profile so pooling inside stages is counted)."""
    from .profiling import analyze

    rows = [row for row in analyze(spec, num_classes=0).rows if row.name.startswith("stages.")]
    levels: list[dict[str, int]] = []
    for index, row in enumerate(rows):
        reduction = 2 ** round(math.log2(spec.resolution / row.out_size))
        level = {"stage": index, "channels": row.channels, "reduction": reduction}
        if levels and levels[-1]["reduction"] == reduction:
            levels[-1] = level
        else:
            levels.append(level)
    return levels


class EffNet(nn.Module):
    """A network built from a `NetSpec`: stem -> stages -> head -> global pool -> dropout -> classifier."""

    def __init__(self, spec: NetSpec, num_classes: int = 1000, in_chans: int = 3,
                 drop_path: float | None = None, dropout: float | None = None, init: bool = True) -> None:
        super().__init__()
        if num_classes < 0 or in_chans < 1:
            raise SpecError(f"num_classes must be >= 0 and in_chans >= 1, got {num_classes}, {in_chans}")
        self.spec = spec
        self.num_classes = num_classes
        norm: NormFactory = partial(nn.BatchNorm2d, eps=spec.bn_eps, momentum=spec.bn_momentum)
        rate = spec.drop_path if drop_path is None else drop_path

        def ctx(in_ch: int, stride: int, act: str | None, drop: float = 0.0) -> BlockContext:
            return BlockContext(in_ch, stride, drop, act or spec.act, norm, spec.padding)

        stem = spec.stem
        layers: list[nn.Module] = [_block(stem, ctx(in_chans, stem.stride, stem.act))]
        if spec.stem_pool:
            layers.append(nn.MaxPool2d(3, 2, 1))
        self.stem = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

        stages: list[nn.Module] = []
        in_ch, index, total = stem.channels, 0, spec.num_blocks
        for stage in spec.stages:
            blocks = []
            for repeat in range(stage.repeats):
                stride = stage.stride if repeat == 0 else 1
                blocks.append(_block(stage, ctx(in_ch, stride, stage.act, rate * index / total)))
                in_ch, index = stage.channels, index + 1
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        head = spec.head
        self.head = _block(head, ctx(in_ch, head.stride, head.act)) if head else nn.Identity()
        self.num_features = spec.num_features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(spec.dropout if dropout is None else dropout)
        self.classifier: nn.Module = (nn.Linear(self.num_features, num_classes) if num_classes
                                      else nn.Identity())
        self.feature_info = feature_levels(spec)
        self.pretrained_cfg: dict[str, Any] = {}
        if init:
            init_weights(self)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last feature map (after the head conv), before pooling: what CAM reads."""
        return self.head(self.stages(self.stem(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(torch.flatten(self.pool(features), 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """A fresh classifier for `num_classes` outputs, zero-initialised for transfer learning (see
        `effnet.weights.zero_classifier`)."""
        from .weights import zero_classifier

        self.num_classes = num_classes
        self.classifier = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        zero_classifier(self)


class FeatureExtractor(nn.Module):
    """Per-stride feature maps for detection/segmentation: returns a list, one tensor per `out_indices`
    entry; `feature_info` gives each one's stage, channels and reduction (stride)."""

    def __init__(self, net: EffNet, out_indices: Sequence[int] | None = None) -> None:
        super().__init__()
        levels = net.feature_info
        indices = list(range(len(levels))) if out_indices is None else list(out_indices)
        bad = [i for i in indices if not -len(levels) <= i < len(levels)]
        if bad or not indices:
            raise SpecError(f"out_indices {indices} out of range: this model has {len(levels)} feature levels")
        indices = sorted({i % len(levels) for i in indices})
        self.feature_info = [dict(levels[i], index=i) for i in indices]
        self.taps = [levels[i]["stage"] for i in indices]
        self.stem = net.stem
        self.stages = nn.Sequential(*list(net.stages)[: self.taps[-1] + 1])
        self.spec = net.spec

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outputs: list[torch.Tensor] = []
        for index, stage in enumerate(self.stages):
            x = stage(x)
            if index in self.taps:
                outputs.append(x)
        return outputs


def init_weights(module: nn.Module) -> None:
    """TensorFlow-reference init: conv ~ N(0, sqrt(2 / fan_out)), linear ~ U(+-1/sqrt(out)), BN = (1, 0)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)


def build(spec: NetSpec, num_classes: int = 1000, *, in_chans: int = 3, drop_path: float | None = None,
          dropout: float | None = None, features_only: bool = False,
          out_indices: Sequence[int] | None = None) -> nn.Module:
    """Build a module from a spec (a classifier, or with `features_only` a per-stride feature extractor)."""
    if not isinstance(spec, NetSpec):
        raise SpecError(f"build() needs a NetSpec, got {type(spec).__name__}")
    net = EffNet(spec, num_classes, in_chans, drop_path, dropout)
    return FeatureExtractor(net, out_indices) if features_only else net

