"""MobileNetV1 (Howard et al. 2017): a 3x3 stem and 13 depthwise-separable convs, ReLU6 as in timm.

Its own multipliers are the width multiplier alpha (1.0, 0.75, 0.5, 0.25: `mobilenet-v1-0.75` ...) and the
resolution multiplier (224, 192, 160, 128 pixels: `mobilenet_v1(resolution=160)` or `--resolution 160`).
Both are `effnet.scale` in disguise; channels round to multiples of 8 like timm's `mobilenetv1_*`.
Parameter count equals timm `mobilenetv1_100` (4,231,976): no head conv, 1024 features into the classifier.
Depth scaling repeats the depthwise-separable layers of each stage (1, 2, 2, 6, 2)."""

from __future__ import annotations

from functools import partial

from ..scaling import scale_spec
from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

STAGES = ("dwsep_r1_k3_s1_e1_c64", "dwsep_r2_k3_s2_e1_c128", "dwsep_r2_k3_s2_e1_c256", "dwsep_r6_k3_s2_e1_c512",
          "dwsep_r2_k3_s2_e1_c1024")
WIDTHS = (1.0, 0.75, 0.5, 0.25)
RESOLUTIONS = (224, 192, 160, 128)


def mobilenet_v1(width: float = 1.0, resolution: int = 224) -> NetSpec:
    """MobileNetV1 with width multiplier `width` at input size `resolution`."""
    base = NetSpec(name="mobilenet-v1", stem=Stage("conv", 1, 3, 2, 32),
                   stages=tuple(Stage.decode(row) for row in STAGES), head=None, resolution=224, act="relu6",
                   bn_eps=1e-5, family="mobilenet-v1")
    if width == 1.0 and resolution == 224:
        return base
    name = "mobilenet-v1" if width == 1.0 else f"mobilenet-v1-{width:g}"
    return scale_spec(base, width=width, image_size=resolution,
                      name=name if resolution == 224 else f"{name}-{resolution}")


register_family("mobilenet-v1", TrainingDefaults(dropout=0.0, drop_path=0.0, bn_momentum=0.1))
register("mobilenet-v1", mobilenet_v1)
for _width in WIDTHS[1:]:
    register(f"mobilenet-v1-{_width:g}", partial(mobilenet_v1, _width))
