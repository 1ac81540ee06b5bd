"""Issue 3: the baseline zoo -- exact parameter counts against torchvision/timm, analytic == hook-measured
cost for every registered model, and every baseline builds, runs and scales."""

from __future__ import annotations

import pytest
import torch

import effnet
from effnet.architecture.profiling import ProfileRow, analyze, measure

TORCHVISION = {
    "resnet18": "resnet18", "resnet34": "resnet34", "resnet50": "resnet50", "resnet101": "resnet101",
    "resnet152": "resnet152", "mobilenet-v2": "mobilenet_v2", "shufflenet-v2-x0-5": "shufflenet_v2_x0_5",
    "shufflenet-v2-x1-0": "shufflenet_v2_x1_0", "squeezenet1-0": "squeezenet1_0", "squeezenet1-1": "squeezenet1_1",
}
# timm renamed mnasnet_a1 to semnasnet_100 (the old name still builds, with a warning)
TIMM = {"mobilenet-v1": "mobilenetv1_100", "xception": "legacy_xception", "mnasnet-a1": "semnasnet_100"}
TIMM_ANCHOR = {"mnasnet-a1": "mnasnet_a1"}
BASELINES = [*TORCHVISION, *TIMM]


def _meta_build(spec: effnet.NetSpec) -> torch.nn.Module:
    with torch.device("meta"):  # shapes only: counting needs no weights
        return effnet.build(spec)


@pytest.mark.parametrize("name", BASELINES)
def test_param_count_equals_anchor(name: str, anchors: dict) -> None:
    expected = (anchors["torchvision_weights"][TORCHVISION[name]][0] if name in TORCHVISION
                else anchors["timm_params"][TIMM_ANCHOR.get(name, TIMM[name])])
    model = _meta_build(effnet.get_spec(name))
    assert sum(p.numel() for p in model.parameters()) == expected
    assert effnet.profile(name).params == expected


@pytest.mark.parametrize("name", ["mobilenet-v1", "xception", "mnasnet-a1", "shufflenet-v2-x1-0"])
def test_param_count_equals_peer_model(name: str) -> None:
    """Build the peer library's model too (random weights, nothing downloaded)."""
    if name in TIMM:
        import timm

        peer = timm.create_model(TIMM[name], pretrained=False)
    else:
        import torchvision

        peer = torchvision.models.get_model(TORCHVISION[name], weights=None)
    ours = _meta_build(effnet.get_spec(name))
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in peer.parameters())


@pytest.mark.parametrize("name", effnet.list_models())
def test_analytic_equals_hook_measurement(name: str) -> None:
    spec = effnet.get_spec(name)
    analytic, measured = analyze(spec, 48), measure(_meta_build(spec), 48)
    assert (analytic.params, analytic.macs, analytic.activations) == (
        measured.params, measured.macs, measured.activations)

    def key(row: ProfileRow) -> tuple:  # sizes of the pooled classifier input are not comparable
        return (row.name, row.params, row.macs, row.activations, row.out_size,
                row.in_size if row.name != "classifier" else None)

    assert [key(r) for r in analytic.rows] == [key(r) for r in measured.rows]


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_runs_and_scales(name: str) -> None:
    spec = effnet.get_spec(name)
    model = effnet.build(effnet.scale(spec, width=0.25, depth=0.5), num_classes=7)
    out = model.eval()(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7) and torch.isfinite(out).all()
    scaled = effnet.scale(name, phi=1.0)
    assert scaled.coefficients == pytest.approx((1.2, 1.1, 1.15), rel=0.02)
    assert effnet.profile(scaled).macs > effnet.profile(spec).macs
    # depth doubles the repeats of every stage (fires for SqueezeNet, flow blocks for Xception)
    assert [s.repeats for s in effnet.scale(spec, depth=2.0).stages] == [2 * s.repeats for s in spec.stages]


def test_squeezenet_classifier_gap_is_the_documented_one(anchors: dict) -> None:
    """Our SqueezeNet classifies with pool -> Linear instead of torchvision's conv at 13x13: same params,
    13*13*512*1000 - 512*1000 fewer MACs."""
    gap = 13 * 13 * 512 * 1000 - 512 * 1000
    for ours, theirs in (("squeezenet1-0", "squeezenet1_0"), ("squeezenet1-1", "squeezenet1_1")):
        torchvision_gmacs = anchors["torchvision_weights"][theirs][1]
        assert (effnet.profile(ours).macs + gap) / 1e9 == pytest.approx(torchvision_gmacs, abs=5e-4)


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "resnet152", "mobilenet-v2", "shufflenet-v2-x0-5",
                                  "shufflenet-v2-x1-0"])
def test_macs_equal_torchvision(name: str, anchors: dict) -> None:
    assert effnet.profile(name).gmacs == pytest.approx(anchors["torchvision_weights"][TORCHVISION[name]][1],
                                                        abs=5e-4)


def test_mobilenet_v1_multipliers() -> None:
    """Howard et al. Table 6/7: 1.0-224 569M, 1.0-160 290M, 0.5-224 149M, 0.25-224 41M multiply-adds."""
    assert effnet.profile("mobilenet-v1").macs / 1e6 == pytest.approx(569, abs=1)
    assert effnet.profile(effnet.scale("mobilenet-v1", image_size=160)).macs / 1e6 == pytest.approx(290, abs=2)
    assert effnet.profile("mobilenet-v1-0.5").macs / 1e6 == pytest.approx(149, abs=2)
    assert effnet.profile("mobilenet-v1-0.25").macs / 1e6 == pytest.approx(41, abs=1.5)


def test_baseline_weights_load_from_torchvision_resnet() -> None:
    """Same architecture: a torchvision ResNet-18 state dict has one tensor of the same shape per ours, in order."""
    import torchvision

    theirs = [t.shape for k, t in torchvision.models.resnet18().state_dict().items()]
    ours = [t.shape for t in effnet.build(effnet.get_spec("resnet18")).state_dict().values()]
    assert sorted(map(tuple, ours)) == sorted(map(tuple, theirs))
