"""features_only: per-stride feature maps with channel and stride metadata, for detection/segmentation."""

from __future__ import annotations

import pytest
import torch

import effnet


def test_b0_feature_pyramid():
    model = effnet.create_model("efficientnet-b0", features_only=True).eval()
    info = model.feature_info
    assert [level["reduction"] for level in info] == [2, 4, 8, 16, 32]
    assert [level["channels"] for level in info] == [16, 24, 40, 112, 320]
    with torch.no_grad():
        maps = model(torch.randn(2, 3, 128, 128))
    assert [tuple(m.shape) for m in maps] == [(2, c, 128 // r, 128 // r) for c, r in
                                             [(16, 2), (24, 4), (40, 8), (112, 16), (320, 32)]]


def test_out_indices_select_levels_and_track_scaling():
    model = effnet.create_model("efficientnet-b3", features_only=True, out_indices=(2, 3, 4)).eval()
    assert [level["channels"] for level in model.feature_info] == [48, 136, 384]
    with torch.no_grad():
        maps = model(torch.randn(1, 3, 64, 64))
    assert [m.shape[1] for m in maps] == [48, 136, 384]
    assert [m.shape[-1] for m in maps] == [8, 4, 2]


def test_features_match_the_classifier_backbone():
    classifier = effnet.create_model("efficientnet-lite0").eval()
    features = effnet.FeatureExtractor(classifier, out_indices=[-1]).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(features(x)[0], classifier.stages(classifier.stem(x)))


def test_bad_out_indices():
    with pytest.raises(effnet.SpecError, match="out_indices"):
        effnet.create_model("efficientnet-b0", features_only=True, out_indices=(7,))
