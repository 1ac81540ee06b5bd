"""Checkpoint safety and clear errors: malicious pickles, truncated files, wrong architectures, heads."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

import effnet
from conftest import randomize_batchnorm
from effnet.hub.weights import WeightsError, safe_load


class _Exploit:
    """Unpickling this would run `touch MARKER`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture(scope="module")
def lite0_state():
    return randomize_batchnorm(effnet.create_model("efficientnet-lite0")).state_dict()


def test_malicious_pickle_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"stem.conv.weight": torch.zeros(1), "payload": _Exploit(marker)}, path)
    model = effnet.create_model("efficientnet-lite0")
    with pytest.raises(WeightsError, match="refusing to load"):
        effnet.load_weights(model, path)
    assert not marker.exists()


def test_malicious_raw_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned2"
    path = tmp_path / "evil.bin"
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(WeightsError):
        safe_load(path)
    assert not marker.exists()


def test_truncated_checkpoint(tmp_path, lite0_state):
    path = tmp_path / "model.pth"
    torch.save(lite0_state, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        safe_load(path)


def test_truncated_safetensors(tmp_path, lite0_state):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in lite0_state.items()}, str(path))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(WeightsError, match="corrupt or truncated"):
        safe_load(path)


def test_missing_file():
    with pytest.raises(WeightsError, match="not found"):
        safe_load("/nonexistent/weights.pth")


def test_wrong_architecture_names_the_problem(lite0_state):
    model = effnet.create_model("efficientnet-b0")
    with pytest.raises(WeightsError, match=r"shape mismatch|missing|unexpected"):
        effnet.load_weights(model, lite0_state)


def test_missing_and_unexpected_keys_are_named(lite0_state):
    state = dict(lite0_state)
    del state["stages.3.1.dw.conv.weight"]
    state["stages.9.0.extra.weight"] = torch.zeros(1)
    model = effnet.create_model("efficientnet-lite0")
    with pytest.raises(WeightsError) as error:
        effnet.load_weights(model, state)
    assert "stages.3.1.dw.conv.weight" in str(error.value)
    assert "stages.9.0.extra.weight" in str(error.value)
    before = model.stem.conv.weight.clone()
    report = effnet.load_weights(model, state, strict=False)
    assert report.missing == ["stages.3.1.dw.conv.weight"]
    assert not torch.equal(before, model.stem.conv.weight)


def test_classifier_size_mismatch_and_reset_head(lite0_state):
    model = effnet.create_model("efficientnet-lite0", num_classes=10)
    with pytest.raises(WeightsError, match="reset_head=True"):
        effnet.load_weights(model, lite0_state)
    report = effnet.load_weights(model, lite0_state, reset_head=True)
    assert report.head_reset
    assert torch.equal(model.stem.conv.weight, lite0_state["stem.conv.weight"])
    assert model.classifier.weight.shape == (10, 1280)


def test_ddp_and_wrapped_checkpoints_are_unwrapped(tmp_path, lite0_state):
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": {f"module.{k}": v for k, v in lite0_state.items()}, "epoch": 3}, path)
    model = effnet.create_model("efficientnet-lite0")
    assert effnet.load_weights(model, path).loaded == len(lite0_state)


def test_save_and_from_pretrained_round_trip(tmp_path):
    model = randomize_batchnorm(effnet.create_model("efficientnet", phi=-1, num_classes=5)).eval()
    out = effnet.save_pretrained(model, tmp_path / "saved")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    loaded = effnet.from_pretrained(out).eval()
    assert loaded.spec == model.spec and loaded.num_classes == 5
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_save_pretrained_into_a_file_is_an_error(tmp_path):
    target = tmp_path / "file"
    target.write_text("keep me")
    with pytest.raises(effnet.OutputError, match="is not a folder"):
        effnet.save_pretrained(effnet.create_model("efficientnet-lite0"), target)
    assert target.read_text() == "keep me"


def test_from_pretrained_with_corrupt_config(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(WeightsError, match="corrupt"):
        effnet.from_pretrained(tmp_path)


def test_pretrained_path_accepts_foreign_files(tmp_path):
    timm = pytest.importorskip("timm")
    peer = randomize_batchnorm(timm.create_model("efficientnet_lite0")).eval()
    path = tmp_path / "timm_lite0.pth"
    torch.save(peer.state_dict(), path)
    model = effnet.create_model("efficientnet-lite0", pretrained=str(path), bn_eps=1e-5).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - peer(x)).abs().max() <= 1e-4


def test_reset_head_starts_from_zero_logits(lite0_state):
    """A fresh head on pretrained features starts at zero: initial loss ln(C), not a large random one."""
    model = effnet.create_model("efficientnet-lite0", num_classes=10)
    effnet.load_weights(model, lite0_state, reset_head=True)
    assert model.classifier.weight.abs().sum() == 0 and model.classifier.bias.abs().sum() == 0
    with torch.no_grad():
        logits = model.eval()(torch.randn(2, 3, 64, 64))
    assert torch.equal(logits, torch.zeros(2, 10))
