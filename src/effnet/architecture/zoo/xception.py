"""Xception (Chollet 2017) at 299x299: entry flow (two unpadded convs, three strided residual blocks), middle
flow (8 residual blocks of three separable convs at 728 channels), exit flow (a strided block, two separable
convs to 1536 and 2048). Parameter count equals timm `legacy_xception` (22,855,952).
Depth scaling repeats the residual blocks of each flow stage: the middle flow's 8 blocks scale like any stage
(d=2 gives 16); entry/exit stages of one block gain stride-1 copies of it."""

from __future__ import annotations

from ..spec import NetSpec, Stage
from ..training_defaults import TrainingDefaults
from .registry import register, register_family

STAGES = ("vconv_r1_k3_s1_e1_c64", "xentry_r1_k3_s2_e1_c128", "xentry_r1_k3_s2_e1_c256", "xentry_r1_k3_s2_e1_c728",
          "xmiddle_r8_k3_s1_e1_c728", "xexit_r1_k3_s2_e1_c1024", "sepconv_r1_k3_s1_e1_c1536")


def xception() -> NetSpec:
    """Xception with timm's legacy layout."""
    return NetSpec(name="xception", stem=Stage("vconv", 1, 3, 2, 32),
                   stages=tuple(Stage.decode(row) for row in STAGES), head=Stage("sepconv", 1, 3, 1, 2048),
                   resolution=299, act="relu", bn_eps=1e-5, family="xception")


register_family("xception", TrainingDefaults(dropout=0.0, drop_path=0.0, bn_momentum=0.1))
register("xception", xception)
