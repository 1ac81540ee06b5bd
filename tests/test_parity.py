"""Weight-for-weight parity with the anchor libraries: the same state dict gives the same logits.

BN eps is not stored in a state dict, so each test builds effnet with the peer's eps: timm's PyTorch-trained
`efficientnet_*` use 1e-5, its `tf_*` ports 1e-3, torchvision's B0-B4 1e-5 and B5-B7 1e-3."""

from __future__ import annotations

import pytest
import torch

import effnet
from conftest import randomize_batchnorm

timm = pytest.importorskip("timm", reason="timm is a test dependency (pip install 'effnet[test]')")
torchvision = pytest.importorskip("torchvision")

B = [f"b{i}" for i in range(8)]
LITE = [f"lite{i}" for i in range(5)]


def _compare(peer: torch.nn.Module, name: str, size: int = 64, **overrides) -> None:
    peer = randomize_batchnorm(peer).eval()
    ours = effnet.create_model(name, **overrides).eval()
    report = effnet.load_weights(ours, peer.state_dict())
    assert report.loaded == len(ours.state_dict())
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, actual = peer(x), ours(x)
    assert expected.abs().max() > 1e-2  # non-trivial logits
    assert (expected - actual).abs().max().item() <= 1e-4


@pytest.mark.parametrize("variant", B + LITE)
def test_timm_parity(variant):
    peer = timm.create_model(f"efficientnet_{variant}", pretrained=False)
    _compare(peer, f"efficientnet-{variant}", bn_eps=1e-5)


@pytest.mark.parametrize("variant", B)
def test_torchvision_parity(variant):
    peer = getattr(torchvision.models, f"efficientnet_{variant}")(weights=None)
    eps = 1e-3 if variant in ("b5", "b6", "b7") else 1e-5
    _compare(peer, f"efficientnet-{variant}", bn_eps=eps)


@pytest.mark.parametrize("size", [65, 64])
def test_tf_same_padding_matches_timm_tf_port(size):
    """timm's tf_efficientnet_b0 pads like TensorFlow ('SAME', asymmetric) with eps 1e-3; odd sizes too."""
    peer = timm.create_model("tf_efficientnet_b0", pretrained=False)
    _compare(peer, "efficientnet-b0", size=size, padding="same", bn_eps=1e-3)


def test_efficientnet_pytorch_naming_round_trip():
    """efficientnet_pytorch uses a flat block index (_blocks.N); convert ours to it and load it back."""
    from effnet.hub.adapters import foreign_names

    source = randomize_batchnorm(effnet.create_model("efficientnet-b2")).eval()
    names = foreign_names(source, "efficientnet_pytorch")
    foreign = {names[k]: v for k, v in source.state_dict().items()}
    assert "_blocks.22._se_expand.bias" in foreign and "_fc.weight" in foreign
    target = effnet.create_model("efficientnet-b2").eval()
    assert effnet.load_weights(target, foreign).format == "efficientnet_pytorch"
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(source(x), target(x))


@pytest.mark.parametrize("variant", ["b0", "b4", "b7"])
def test_stochastic_depth_rates_equal_torchvision(variant):
    peer = getattr(torchvision.models, f"efficientnet_{variant}")(weights=None)
    theirs = [m.p for m in peer.modules() if isinstance(m, torchvision.ops.StochasticDepth)]
    ours = [m.drop_path_rate for m in effnet.create_model(f"efficientnet-{variant}").modules()
            if isinstance(m, effnet.architecture.layers.MBConv)]
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert ours[0] == 0.0 and max(ours) < 0.2
