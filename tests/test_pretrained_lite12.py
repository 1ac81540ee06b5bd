"""Real pretrained Lite1 and Lite2: the installed TF-trained ImageNet weights classify scikit-image's photos, and
their entries' settings (TF "same" padding, BN eps 1e-3, own input size and TF eval crop, (x-127)/128) reach the
model. Evidence for the settings: benchmarks/lite_settings.py, figures in src/effnet/hub/pretrained.py."""

from __future__ import annotations

import pytest
import torch
from skimage import data

import effnet

CATS = range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967

# name -> (input size, P(espresso | coffee) lower bound); measured 0.54 (Lite1) and 0.89 (Lite2), runner-up <= 0.04
MODELS = {"efficientnet-lite1": (240, 0.45), "efficientnet-lite2": (260, 0.8)}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request) -> torch.nn.Module:
    return effnet.create_model(request.param, pretrained=True)


def test_classifies_chelsea_as_cat_and_coffee_as_espresso(model):
    chelsea, coffee = effnet.predict(model, [data.chelsea(), data.coffee()], top_k=5)
    assert chelsea["top"][0]["index"] in CATS, chelsea
    assert sum(row["prob"] for row in chelsea["top"] if row["index"] in CATS) > 0.75, chelsea  # measured 0.82
    top, runner_up = coffee["top"][0], coffee["top"][1]
    assert top["index"] == ESPRESSO and top["label"] == "espresso", coffee
    assert top["prob"] > MODELS[model.spec.name][1], coffee
    assert top["prob"] > 8 * runner_up["prob"], coffee  # confident, not a lucky argmax


def test_entry_settings_reach_model_and_spec(model):
    size = MODELS[model.spec.name][0]
    cfg = model.pretrained_cfg
    assert cfg["model"] == model.spec.name and cfg["labels"] == "imagenet-1k" and cfg["num_classes"] == 1000
    assert cfg["input_size"] == size == model.spec.resolution
    assert cfg["crop_pct"] == pytest.approx(size / (size + 32)) and cfg["interpolation"] == "bicubic"
    assert cfg["mean"] == pytest.approx((127 / 255,) * 3) and cfg["std"] == pytest.approx((128 / 255,) * 3)
    assert model.spec.padding == "same" and model.spec.bn_eps == 1e-3
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert f"{model.spec.name}.tf-in1k" in effnet.list_pretrained()
