"""Tagged weights that carry their metadata: `list_pretrained` names them as `arch.tag`, a tagged name works
wherever a model name does (a bare name means the default tag), and every entry's `.meta` -- parameters, MACs,
the sha256 of its tensors, the top-1 this project measured on its labelled photos -- is recomputed here from the
real weights, so it cannot drift. Weights trained here register from a save_pretrained folder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import effnet
from effnet.architecture.profiling import analyze
from effnet.cli import main
from effnet.deploy.quantize import labelled_samples
from effnet.hub.pretrained import tensors_sha256


def test_weights_are_tagged_and_a_tagged_name_works_wherever_a_name_does(capsys) -> None:
    assert effnet.list_pretrained() == ["efficientnet-lite0.tf-in1k", "efficientnet-lite1.tf-in1k",
                                        "efficientnet-lite2.tf-in1k"]
    assert effnet.get_weights("efficientnet-lite0").name == "efficientnet-lite0.tf-in1k"  # the default tag
    assert effnet.get_spec("efficientnet-lite0.tf-in1k") == effnet.get_spec("efficientnet-lite0")
    with pytest.raises(effnet.WeightsError, match=r"efficientnet-lite0 has efficientnet-lite0\.tf-in1k"):
        effnet.get_weights("efficientnet-lite0.other")
    assert main(["info", "efficientnet-lite0.tf-in1k"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize("name", effnet.list_pretrained())
def test_each_entrys_metadata_matches_its_real_weights(name: str) -> None:
    weights = effnet.get_weights(name)
    meta = weights.meta
    assert set(meta) >= {"params", "macs", "source", "sha256", "license", "top1", "top1_on"}
    model = effnet.load_model(name, pretrained=True).eval()
    assert model.preprocessing == weights.preprocessing
    profile = analyze(model.spec, weights.preprocessing.input_size, num_classes=1000)
    assert (profile.params, profile.macs) == (meta["params"], meta["macs"])
    assert tensors_sha256(model.state_dict()) == meta["sha256"]
    samples = labelled_samples("skimage-imagenet", model.preprocessing)
    with torch.no_grad():
        hits = sum(int(model(s.image.unsqueeze(0)).argmax()) in s.labels for s in samples)
    assert 100 * hits / len(samples) == meta["top1"] and meta["top1_on"].startswith(f"{hits} of 40 views")


def test_weights_trained_here_register_from_a_folder(tmp_path: Path, monkeypatch) -> None:
    from effnet.hub import pretrained

    monkeypatch.setattr(pretrained, "_ENTRIES", dict(pretrained._ENTRIES))  # registered for this test only
    model = effnet.create_model("efficientnet-b0-small", num_classes=10)
    folder = effnet.save_pretrained(model, tmp_path / "pretrained")
    weights = effnet.register_weights(folder, tag="fmnist-test", meta={"top1": 12.5, "top1_on": "nothing"})
    assert weights.name == "efficientnet-b0-small.fmnist-test" and weights.name in effnet.list_pretrained()
    assert weights.meta["sha256"] == tensors_sha256(model.state_dict()) and weights.meta["top1"] == 12.5
    loaded = effnet.load_model("efficientnet-b0-small.fmnist-test", pretrained=True)
    assert loaded.num_classes == 10 and torch.equal(loaded.classifier.weight, model.classifier.weight)
