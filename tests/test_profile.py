"""Issue 3: the profiler reproduces paper Tables 2, 3 and 7 (MACs = multiply-adds, the paper's FLOPS)."""

from __future__ import annotations

import pytest
import torch

import effnet
from effnet.architecture.profiling import Profile, analyze, measure, pool_size


def _table(paper: dict, key: str) -> dict[str, float]:
    """Row name -> the table's `flops_B` column."""
    column = paper[key]["columns"].index("flops_B")
    return {row[0]: row[column] for row in paper[key]["rows"]}


@pytest.mark.parametrize("index", range(8))
def test_table2_macs_within_5_percent_of_paper(index: int, paper: dict) -> None:
    printed = _table(paper, "table2_imagenet")[f"EfficientNet-B{index}"]
    assert effnet.profile(f"efficientnet-b{index}").gmacs == pytest.approx(printed, rel=0.05)


@pytest.mark.parametrize("index", range(8))
def test_table2_macs_equal_torchvision_at_eval_crop(index: int, anchors: dict) -> None:
    params, gmacs, _, crop = anchors["torchvision_weights"][f"efficientnet_b{index}"]
    result = effnet.profile(f"efficientnet-b{index}", resolution=crop)
    assert result.params == params
    assert result.gmacs == pytest.approx(gmacs, rel=0.01)


def test_table2_baselines(paper: dict) -> None:
    printed = _table(paper, "table2_imagenet")
    assert round(effnet.profile("resnet50").gmacs, 1) == printed["ResNet-50"]
    assert effnet.profile("resnet152").gmacs == pytest.approx(printed["ResNet-152"], rel=0.05)
    assert effnet.profile("xception").gmacs == pytest.approx(printed["Xception"], rel=0.01)


# Paper Table 3: (row, base, scaling keywords, relative gap we measure where exact counting differs).
# Gaps: the paper gives compound coefficients only for MobileNetV1 (d=1.4, w=1.2, r=1.3), so the other two
# compound rows use the same coefficients; ceil(1.4 * repeats) turns every 1-block stage into 2 blocks, which
# puts MobileNetV1/V2 compound above the printed figures. ResNet-50's printed d=4 (16.2) and w=2 (14.7) match
# our w=2 (16.12) and d=4 (14.57) within 1% -- the two labels look swapped in the paper.
TABLE3 = [
    ("MobileNetV1 baseline", "mobilenet-v1", {}, None),
    ("MobileNetV1 width w=2", "mobilenet-v1", {"width": 2.0}, None),
    ("MobileNetV1 resolution r=2", "mobilenet-v1", {"resolution": 2.0}, None),
    ("MobileNetV1 compound d=1.4 w=1.2 r=1.3", "mobilenet-v1", {"depth": 1.4, "width": 1.2, "resolution": 1.3},
     0.074),
    ("MobileNetV2 baseline", "mobilenet-v2", {}, None),
    ("MobileNetV2 depth d=4", "mobilenet-v2", {"depth": 4.0}, None),
    ("MobileNetV2 width w=2", "mobilenet-v2", {"width": 2.0}, None),
    ("MobileNetV2 resolution r=2", "mobilenet-v2", {"resolution": 2.0}, None),
    ("MobileNetV2 compound", "mobilenet-v2", {"depth": 1.4, "width": 1.2, "resolution": 1.3}, 0.109),
    ("ResNet-50 baseline", "resnet50", {}, None),
    ("ResNet-50 depth d=4", "resnet50", {"depth": 4.0}, -0.101),
    ("ResNet-50 width w=2", "resnet50", {"width": 2.0}, 0.096),
    ("ResNet-50 resolution r=2", "resnet50", {"resolution": 2.0}, None),
    ("ResNet-50 compound", "resnet50", {"depth": 1.4, "width": 1.2, "resolution": 1.3}, -0.050),
]


@pytest.mark.parametrize(("row", "base", "scaling", "gap"), TABLE3, ids=[r[0] for r in TABLE3])
def test_table3_rows(row: str, base: str, scaling: dict, gap: float | None, paper: dict) -> None:
    printed = _table(paper, "table3_scaling_mobilenets_resnet")[row]
    spec = effnet.scale(base, **scaling) if scaling else effnet.get_spec(base)
    ours = effnet.profile(spec).gmacs
    if gap is None:
        assert round(ours, 1) == printed or ours == pytest.approx(printed, rel=0.05)
    else:  # documented difference, pinned to 1 point so a counting change cannot hide behind it
        assert ours / printed - 1 == pytest.approx(gap, abs=0.01)


def test_table3_resnet_depth_width_labels_look_swapped(paper: dict) -> None:
    printed = _table(paper, "table3_scaling_mobilenets_resnet")
    assert effnet.profile(effnet.scale("resnet50", depth=4.0)).gmacs == pytest.approx(
        printed["ResNet-50 width w=2"], rel=0.01)
    assert effnet.profile(effnet.scale("resnet50", width=2.0)).gmacs == pytest.approx(
        printed["ResNet-50 depth d=4"], rel=0.01)


def test_table7_b0_scaled_to_about_the_same_budget(paper: dict) -> None:
    """Table 7 scales B0 to ~1.8B MACs four ways. Exact counting with the standard rounding (channels to 8,
    ceil repeats, pixels to 4) gives 1.58 (d=4), 1.45 (w=2), 1.54 (r=2) and 1.80 (compound, which is ~B3 at
    292px): the compound row matches the printed 1.8, the single-dimension rows are 12-19% under the printed
    1.8/1.8/1.9, so the four budgets differ by up to 24% instead of being equal."""
    printed = _table(paper, "table7_scaling_b0")
    rows = {
        "Scale by depth d=4": {"depth": 4.0},
        "Scale by width w=2": {"width": 2.0},
        "Scale by resolution r=2": {"resolution": 2.0},
        "Compound d=1.4 w=1.2 r=1.3": {"depth": 1.4, "width": 1.2, "resolution": 1.3},
    }
    ours = {row: effnet.profile(effnet.scale("efficientnet-b0", **kw)).gmacs for row, kw in rows.items()}
    assert ours["Compound d=1.4 w=1.2 r=1.3"] == pytest.approx(printed["Compound d=1.4 w=1.2 r=1.3"], rel=0.05)
    for row in list(rows)[:3]:
        assert -0.20 < ours[row] / printed[row] - 1 < -0.10, row
    assert max(ours.values()) / min(ours.values()) < 1.25
    assert round(effnet.profile("efficientnet-b0").gmacs, 1) == printed["Baseline EfficientNet-B0"]


def test_profile_accepts_name_spec_and_module() -> None:
    spec = effnet.scale("mobilenet-v2", width=0.5)
    by_spec = effnet.profile(spec, 96)
    model = effnet.build(spec, num_classes=10)
    by_model = effnet.profile(model, 96)
    assert by_model.params == sum(p.numel() for p in model.parameters())
    assert by_model.macs == measure(model, 96).macs
    assert by_spec.params - by_model.params == (1000 - 10) * (spec.num_features + 1)
    assert isinstance(effnet.profile("mobilenet-v2"), Profile)


def test_profile_of_a_foreign_module_uses_hooks(anchors: dict) -> None:
    import torchvision

    result = effnet.profile(torchvision.models.resnet18(), 224)
    assert result.params == anchors["torchvision_weights"]["resnet18"][0]
    assert result.gmacs == pytest.approx(anchors["torchvision_weights"]["resnet18"][1], abs=5e-4)
    assert result.macs == effnet.profile("resnet18").macs


def test_rows_sum_to_totals_and_table_prints_them() -> None:
    result = effnet.profile("efficientnet-b0")
    assert sum(r.params for r in result.rows) == result.params
    assert sum(r.macs for r in result.rows) == result.macs
    assert sum(r.activations for r in result.rows) == result.activations
    assert [r.repeats for r in result.rows[1:-2]] == [1, 2, 2, 3, 3, 4, 1]
    assert [r.in_size for r in result.rows[:-1]] == [224, 112, 112, 56, 28, 14, 14, 7, 7]  # paper Table 1
    text = result.table()
    assert f"{result.params:,}" in text and "MBConv6, k5x5" in text
    assert result.to_dict()["rows"][0]["name"] == "stem"


def test_measure_restores_training_mode_and_counts_activations() -> None:
    model = effnet.build(effnet.scale("resnet18", width=0.25), num_classes=5).train()
    result = measure(model, 32)
    assert model.training
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    outputs: list[int] = []
    handles = [m.register_forward_hook(lambda m, i, o: outputs.append(o.numel())) for m in convs]
    model.eval()(torch.zeros(1, 3, 32, 32))
    for h in handles:
        h.remove()
    assert result.activations == sum(outputs)


def test_pool_size_matches_pytorch() -> None:
    for size in range(5, 40):
        for pad, ceil in ((0, True), (1, False), (0, False)):
            pool = torch.nn.MaxPool2d(3, 2, pad, ceil_mode=ceil)
            assert pool_size(size, 3, 2, pad, ceil) == pool(torch.zeros(1, 1, size, size)).shape[-1]


@pytest.mark.parametrize("bad", ["no-such-net", 42])
def test_bad_profile_input(bad: object) -> None:
    with pytest.raises(effnet.SpecError):
        effnet.profile(bad)


def test_resolution_too_small_is_a_clear_error() -> None:
    with pytest.raises(effnet.SpecError, match="resolution"):
        analyze(effnet.get_spec("resnet50"), 4)
    with pytest.raises(effnet.SpecError, match="too small"):
        analyze(effnet.get_spec("squeezenet1-0"), 8)
