"""spec -> nn.Module. One generic builder; each stage operator comes from the operator registry."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Any, ClassVar

import torch
from torch import nn

from ..architecture import blocks  # noqa: F401  (registers the built-in operators)
from ..architecture.layers import NormFactory
from ..architecture.operators import BlockContext, get_operator
from ..architecture.profiling import analyze
from ..architecture.spec import NetSpec, SpecError, Stage
from ..architecture.zoo.registry import training_defaults
from .card import ModelCard
from .preprocessing import Preprocessing

MAX_PARAMS = 2_000_000_000  # 8 GB of fp32 weights: refused before anything is allocated
MAX_CLASSES = 1_000_000


def _block(stage: Stage, ctx: BlockContext, where: str) -> nn.Module:
    try:
        return get_operator(stage.op).build(stage, ctx)
    except (ValueError, RuntimeError) as error:
        if isinstance(error, SpecError):
            raise
        raise SpecError(f"{where} ({stage.encode()}) cannot be built: {str(error).splitlines()[0]}") from None


def check_size(spec: NetSpec, num_classes: int, in_chans: int = 3) -> int:
    """The parameter count the spec asks for, from the operators' cost formulas (no allocation); a `SpecError`
    for absurd networks, so a hostile spec file is refused at once instead of exhausting memory."""
    for name, value, limit in (("num_classes", num_classes, MAX_CLASSES), ("in_chans", in_chans, 4096)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
            raise SpecError(f"{name} must be an integer in [0, {limit}], got {value!r}")
    if in_chans < 1:
        raise SpecError(f"in_chans must be >= 1, got {in_chans}")
    params = analyze(spec, max(spec.resolution, 1024), num_classes=num_classes, in_chans=in_chans).params
    if params > MAX_PARAMS:
        raise SpecError(f"{spec.name} would have {params:,} parameters, beyond the supported maximum {MAX_PARAMS:,}")
    return params


def feature_levels(spec: NetSpec) -> list[dict[str, int]]:
    """Where the feature pyramid taps the body: the last stage at each reduction (stride relative to the input),
    following each operator's own reduction (a pool inside a block counts)."""
    stem = spec.stem
    reduction = get_operator(stem.op).stride_of(stem, stem.stride) * (2 if spec.stem_pool else 1)
    levels: list[dict[str, int]] = []
    for index, stage in enumerate(spec.stages):
        reduction *= get_operator(stage.op).stride_of(stage, stage.stride)
        level = {"stage": index, "channels": stage.channels, "reduction": reduction}
        if levels and levels[-1]["reduction"] == reduction:
            levels[-1] = level
        else:
            levels.append(level)
    return levels


class CardViews:
    """`preprocessing`, `weights_origin` and `pretrained_cfg` of a module, read from its `card` (the card, not the
    module, carries the metadata; setting `preprocessing` replaces the card's)."""

    card: ModelCard

    @property
    def preprocessing(self) -> Preprocessing:
        """How the model wants its images, and its class names."""
        return self.card.preprocessing

    @preprocessing.setter
    def preprocessing(self, value: Preprocessing) -> None:
        self.card = self.card.replace(preprocessing=value)

    @property
    def weights_origin(self) -> dict[str, Any]:
        """Where the loaded weights came from (model, tag, origin, file); {} for fresh weights. A copy."""
        return dict(self.card.origin)

    @property
    def pretrained_cfg(self) -> dict[str, Any]:
        """timm-style view of the preprocessing and the weights' origin (read-only; set `preprocessing`)."""
        return self.card.pretrained_cfg


# views for Python callers, not the graph: TorchScript leaves them alone
CARD_VIEWS: list[str] = ["preprocessing", "weights_origin", "pretrained_cfg"]


class EffNet(CardViews, nn.Module):
    """A network built from a `NetSpec`: stem -> stages -> head -> global pool -> dropout -> classifier."""

    __jit_unused_properties__: ClassVar[list[str]] = CARD_VIEWS

    def __init__(self, spec: NetSpec, num_classes: int = 1000, in_chans: int = 3,
                 drop_path: float | None = None, dropout: float | None = None, init: bool = True, *,
                 bn_momentum: float | None = None, params: int | None = None) -> None:
        """`drop_path`, `dropout`, `bn_momentum`: training settings (none changes a weight or an eval-mode output);
        None takes the spec's registered `training_defaults`. `params`: what `check_size` already returned for these
        arguments -- a caller that checked the size passes it on, so the spec is profiled once."""
        super().__init__()
        if params is None:
            check_size(spec, num_classes, in_chans)
        training = training_defaults(spec).replace(dropout=dropout, drop_path=drop_path, bn_momentum=bn_momentum)
        self.spec = spec
        self.num_classes = num_classes
        norm: NormFactory = partial(nn.BatchNorm2d, eps=spec.bn_eps, momentum=training.bn_momentum)
        rate = training.drop_path

        def ctx(in_ch: int, stride: int, act: str | None, drop: float = 0.0) -> BlockContext:
            return BlockContext(in_ch, stride, drop, act or spec.act, norm, spec.padding)

        stem = spec.stem
        layers: list[nn.Module] = [_block(stem, ctx(in_chans, stem.stride, stem.act), "stem")]
        if spec.stem_pool:
            layers.append(nn.MaxPool2d(3, 2, 1))
        self.stem = layers[0] if len(layers) == 1 else nn.Sequential(*layers)

        stages: list[nn.Module] = []
        in_ch, index, total = stem.channels, 0, spec.num_blocks
        for number, stage in enumerate(spec.stages):
            repeats = []
            for repeat in range(stage.repeats):
                stride = stage.stride if repeat == 0 else 1
                repeats.append(_block(stage, ctx(in_ch, stride, stage.act, rate * index / total), f"stage {number}"))
                in_ch, index = stage.channels, index + 1
            stages.append(nn.Sequential(*repeats))
        self.stages = nn.Sequential(*stages)
        head = spec.head
        self.head = _block(head, ctx(in_ch, head.stride, head.act), "head") if head else nn.Identity()
        self.num_features = spec.num_features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(training.dropout)
        self.classifier: nn.Module = (nn.Linear(self.num_features, num_classes) if num_classes
                                      else nn.Identity())
        self.feature_info = feature_levels(spec)
        self.card = ModelCard.for_spec(spec, num_classes, in_chans, training=training)
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
        `zero_classifier`); the label names no longer apply."""
        self.num_classes = num_classes
        self.classifier = nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        zero_classifier(self)
        self.card = self.card.without_labels().replace(num_classes=num_classes)


class FeatureExtractor(CardViews, nn.Module):
    """Per-stride feature maps for detection/segmentation: returns a list, one tensor per `out_indices`
    entry; `feature_info` gives each one's stage, channels and reduction (stride). It keeps the network's card."""

    __jit_unused_properties__: ClassVar[list[str]] = CARD_VIEWS

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
        self.card = net.card

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


def zero_init_residuals(model: nn.Module) -> int:
    """Initialise the last BatchNorm gamma of every residual branch to zero (timm's `zero_init_last`,
    torchvision's `zero_init_residual`; Goyal et al. 2017), so every residual block starts as its shortcut and a
    deeper network starts as a shallower one -- short schedules then stop punishing depth. Any block that defines
    `zero_init_last()` takes part (the built-in residual blocks do; a custom operator's block opts in by defining
    it). Returns how many blocks were initialised."""
    count = 0
    for module in model.modules():
        if module is not model and callable(getattr(module, "zero_init_last", None)):
            module.zero_init_last()
            count += 1
    return count


def zero_classifier(model: nn.Module) -> None:
    """Start a fresh classifier at zero: pretrained features are large (Lite0's reach 6), so a randomly
    initialised head on them gives initial losses around 18 and the first fine-tuning steps go into undoing it."""
    classifier = getattr(model, "classifier", None)
    if isinstance(classifier, nn.Linear):
        with torch.no_grad():
            classifier.weight.zero_()
            classifier.bias.zero_()


def build(spec: NetSpec, num_classes: int = 1000, *, in_chans: int = 3, dropout: float | None = None,
          drop_path: float | None = None, bn_momentum: float | None = None, features_only: bool = False,
          out_indices: Sequence[int] | None = None) -> nn.Module:
    """Build a module from a spec (a classifier, or with `features_only` a per-stride feature extractor). `dropout`,
    `drop_path` and `bn_momentum` are training settings, not architecture: None takes the spec's registered
    `training_defaults` (its name's, else its family's), as `load_model` does."""
    if not isinstance(spec, NetSpec):
        raise SpecError(f"build() needs a NetSpec, got {type(spec).__name__}")
    net = EffNet(spec, num_classes, in_chans, drop_path, dropout, bn_momentum=bn_momentum)
    return FeatureExtractor(net, out_indices) if features_only else net

