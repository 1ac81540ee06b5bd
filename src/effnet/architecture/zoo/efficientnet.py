"""EfficientNet-B0 (paper Table 1), the official B0-B8 and Lite0-4 presets, and compound models for any phi.

The official B1-B8 coefficients (width, depth, resolution, dropout) were hand-rounded by the authors: they are
close to, but not exactly, (beta^phi, alpha^phi, 224 * gamma^phi). `efficientnet(phi=...)` gives the exact
compound form; the `efficientnet-bN` presets give the published networks (and the weights that exist for them).
The dropout column is a training default of each name (`TrainingDefaults`), not part of its spec.
"""

from __future__ import annotations

from functools import partial

from ..scaling import scale_spec
from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

# Paper Table 1, one row per stage: operator, kernel, stride, expansion, output channels, layers.
B0_STAGES = (
    "mbconv_r1_k3_s1_e1_c16_se0.25",
    "mbconv_r2_k3_s2_e6_c24_se0.25",
    "mbconv_r2_k5_s2_e6_c40_se0.25",
    "mbconv_r3_k3_s2_e6_c80_se0.25",
    "mbconv_r3_k5_s1_e6_c112_se0.25",
    "mbconv_r4_k5_s2_e6_c192_se0.25",
    "mbconv_r1_k3_s1_e6_c320_se0.25",
)

# name: (width, depth, resolution, dropout) -- the official table (tensorflow/tpu efficientnet_builder.py).
OFFICIAL_COEFFICIENTS: dict[str, tuple[float, float, int, float]] = {
    "efficientnet-b0": (1.0, 1.0, 224, 0.2),
    "efficientnet-b1": (1.0, 1.1, 240, 0.2),
    "efficientnet-b2": (1.1, 1.2, 260, 0.3),
    "efficientnet-b3": (1.2, 1.4, 300, 0.3),
    "efficientnet-b4": (1.4, 1.8, 380, 0.4),
    "efficientnet-b5": (1.6, 2.2, 456, 0.4),
    "efficientnet-b6": (1.8, 2.6, 528, 0.5),
    "efficientnet-b7": (2.0, 3.1, 600, 0.5),
    "efficientnet-b8": (2.2, 3.6, 672, 0.5),
    "efficientnet-lite0": (1.0, 1.0, 224, 0.2),
    "efficientnet-lite1": (1.0, 1.1, 240, 0.2),
    "efficientnet-lite2": (1.1, 1.2, 260, 0.3),
    "efficientnet-lite3": (1.2, 1.4, 280, 0.3),
    "efficientnet-lite4": (1.4, 1.8, 300, 0.3),
}


# Paper Section 5.2: dropout 0.2 (B0; the official table raises it to 0.5 for B7), survival probability 0.8 (drop
# path 0.2), BatchNorm momentum 0.99 in TF's convention (0.01 in PyTorch's).
TRAINING = TrainingDefaults(dropout=0.2, drop_path=0.2, bn_momentum=0.01)


def efficientnet_b0() -> NetSpec:
    """The baseline found by the multi-objective architecture search (paper Table 1).

    BN eps 1e-3 follows the paper's TensorFlow training."""
    return NetSpec(
        name="efficientnet-b0",
        stem=Stage("conv", 1, 3, 2, 32),
        stages=tuple(Stage.decode(row) for row in B0_STAGES),
        head=Stage("conv", 1, 1, 1, 1280),
        resolution=224,
        act="silu",
        bn_eps=1e-3,
        family="efficientnet",
    )


def efficientnet_lite_base() -> NetSpec:
    """Lite baseline: B0 without squeeze-excitation, ReLU6, stem/head and first/last stage depth fixed."""
    b0 = efficientnet_b0()
    return b0.replace(
        name="efficientnet-lite0",
        stages=tuple(Stage(**{**stage.__dict__, "se": 0.0}) for stage in b0.stages),
        act="relu6",
        fix_stem_head=True,
        fix_first_last_depth=True,
        family="efficientnet-lite",
    )


def official(name: str) -> NetSpec:
    """One of the published B0-B8 / Lite0-4 networks, from the official coefficient table."""
    width, depth, size, _ = OFFICIAL_COEFFICIENTS[name]
    base = efficientnet_lite_base() if "lite" in name else efficientnet_b0()
    return scale_spec(base, depth=depth, width=width, image_size=size, name=name)


def efficientnet(phi: float = 0.0, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15) -> NetSpec:
    """B0 compound-scaled by exactly (alpha^phi, beta^phi, gamma^phi) -- any real phi."""
    name = "efficientnet-b0" if phi == 0 else f"efficientnet-phi{phi:g}"
    return scale_spec(efficientnet_b0(), phi=phi, alpha=alpha, beta=beta, gamma=gamma, name=name)


register_family("efficientnet", TRAINING)
register_family("efficientnet-lite", TRAINING)
for _name, (*_, _dropout) in OFFICIAL_COEFFICIENTS.items():
    register(_name, partial(official, _name), training=TRAINING.replace(dropout=_dropout))
register("efficientnet", efficientnet_b0)
