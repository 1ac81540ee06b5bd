"""Eq. 2-3 and the rounding rules; the official (hand-rounded) table vs exact compound scaling."""

from __future__ import annotations

import math
import warnings

import pytest

import effnet
from effnet.architecture.scaling import ScalingWarning, dropout_for_phi
from effnet.architecture.zoo.efficientnet import OFFICIAL_COEFFICIENTS


@pytest.mark.parametrize("phi", [-2.5, -1, 0, 0.5, 1, 2.5, 7])
def test_compound_is_alpha_beta_gamma_to_the_phi(phi):
    d, w, r = effnet.compound(phi)
    assert d == pytest.approx(1.2**phi) and w == pytest.approx(1.1**phi) and r == pytest.approx(1.15**phi)


def test_compound_flops_grow_about_two_to_the_phi():
    for phi in (1, 2, 3):
        d, w, r = effnet.compound(phi)
        assert d * w**2 * r**2 == pytest.approx((1.2 * 1.1**2 * 1.15**2) ** phi)
        assert 0.8 * 2**phi < d * w**2 * r**2 < 1.05 * 2**phi


def test_compound_warns_when_constraint_is_far_from_two():
    with pytest.warns(ScalingWarning, match="far from 2"):
        effnet.compound(1, alpha=2.0, beta=1.5, gamma=1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        effnet.compound(1)  # 1.2 * 1.1^2 * 1.15^2 = 1.92: no warning


@pytest.mark.parametrize("bad", [0, -1.2, float("nan"), float("inf")])
def test_compound_rejects_non_positive_coefficients(bad):
    with pytest.raises(effnet.SpecError):
        effnet.compound(1, alpha=bad)


@pytest.mark.parametrize(("channels", "width", "expected"), [
    (32, 1.0, 32), (32, 1.1, 32), (16, 1.1, 16), (40, 1.1, 48), (320, 1.1, 352), (1280, 1.1, 1408),
    (32, 1.4, 48), (24, 1.4, 32), (112, 1.4, 160), (32, 0.5, 16), (16, 0.25, 8), (24, 0.35, 8),
    (100, 1.0, 100),
])
def test_round_channels(channels, width, expected):
    assert effnet.round_channels(channels, width) == expected


def test_round_channels_never_drops_more_than_ten_percent():
    for channels in range(8, 400, 8):
        for width in (0.3, 0.55, 0.75, 1.1, 1.3, 1.7, 2.3):
            rounded = effnet.round_channels(channels, width)
            assert rounded % 8 == 0
            assert rounded >= 0.9 * channels * width


def test_round_repeats_is_ceil():
    assert effnet.round_repeats(2, 1.1) == 3
    assert effnet.round_repeats(3, 1.0) == 3
    assert effnet.round_repeats(4, 3.1) == 13
    assert effnet.round_repeats(1, 0.4) == 1
    assert effnet.round_repeats(10, 1.2) == 12  # 1.2 * 10 is 12.000000000000002 in floating point


def test_round_resolution_multiple_of_four():
    assert effnet.round_resolution(224, 1.3) == 292
    assert effnet.round_resolution(224, 2.0) == 448
    assert effnet.round_resolution(224, 1.0) == 224


def test_scale_changes_only_lengths_widths_resolution():
    base = effnet.get_spec("efficientnet-b0")
    scaled = effnet.scale(base, depth=2, width=2, resolution=2)
    assert [s.op for s in scaled.stages] == [s.op for s in base.stages]
    assert [s.kernel for s in scaled.stages] == [s.kernel for s in base.stages]
    assert [s.repeats for s in scaled.stages] == [2 * s.repeats for s in base.stages]
    assert [s.channels for s in scaled.stages] == [2 * s.channels for s in base.stages]
    assert scaled.stem.channels == 64 and scaled.head.channels == 2560
    assert scaled.resolution == 448
    assert scaled.coefficients == (2.0, 2.0, 2.0)


def test_scale_by_phi_equals_explicit_multipliers():
    d, w, r = effnet.compound(2.5)
    by_phi = effnet.scale("efficientnet-b0", phi=2.5)
    explicit = effnet.scale("efficientnet-b0", depth=d, width=w, resolution=r)
    assert by_phi.stages == explicit.stages and by_phi.resolution == explicit.resolution
    # the paper's dropout for phi is a training default of the scaled model (its card), not a spec field
    assert effnet.model_card("efficientnet-b0", phi=2.5).training.dropout == dropout_for_phi(2.5)
    assert effnet.model_card("efficientnet-b0", depth=d).training.dropout == 0.2


def test_negative_phi_shrinks():
    small = effnet.scale("efficientnet-b0", phi=-2)
    assert small.resolution < 224
    assert sum(s.repeats for s in small.stages) <= 16
    assert small.stages[-1].channels < 320


def test_lite_rules_fix_stem_head_and_first_last_depth():
    lite4 = effnet.get_spec("efficientnet-lite4")
    assert lite4.stem.channels == 32 and lite4.head.channels == 1280
    assert lite4.stages[0].repeats == 1 and lite4.stages[-1].repeats == 1
    assert lite4.stages[1].repeats == math.ceil(2 * 1.8)
    b4 = effnet.get_spec("efficientnet-b4")
    assert b4.stem.channels == 48 and b4.head.channels == 1792 and b4.stages[-1].repeats == 2
    unfixed = effnet.scale("efficientnet-lite0", depth=1.8, width=1.4, fix_stem_head=False,
                           fix_first_last_depth=False)
    assert unfixed.stem.channels == 48 and unfixed.stages[-1].repeats == 2


@pytest.mark.parametrize("name", sorted(OFFICIAL_COEFFICIENTS))
def test_official_presets_carry_the_published_table(name, anchors):
    width, depth, size, dropout = anchors["efficientnet_coefficients"][name]
    spec = effnet.get_spec(name)
    assert spec.resolution == size and effnet.model_card(name).training.dropout == dropout
    assert spec.coefficients[0] == depth and spec.coefficients[1] == width


def test_official_table_is_hand_rounded_not_exact_compound():
    """B3 is published as (w 1.2, d 1.4, 300px); exact phi=3 gives (1.331, 1.728, 341px): offer both."""
    exact = effnet.scale("efficientnet-b0", phi=3)
    published = effnet.get_spec("efficientnet-b3")
    assert exact.resolution != published.resolution
    assert exact.coefficients[0] == pytest.approx(1.2**3)
    assert published.coefficients[0] == 1.4


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"width": -1}, {"resolution": float("nan")},
                                    {"phi": 1, "depth": 2}, {"image_size": 3}])
def test_scale_rejects_impossible_options(kwargs):
    with pytest.raises(effnet.SpecError):
        effnet.scale("efficientnet-b0", **kwargs)


def test_create_model_with_arbitrary_phi():
    model = effnet.create_model("efficientnet", phi=-1.5, num_classes=7)
    spec = model.spec
    assert spec.resolution == effnet.round_resolution(224, 1.15**-1.5)
    import torch

    out = model.eval()(torch.randn(1, 3, spec.resolution, spec.resolution))
    assert out.shape == (1, 7)
