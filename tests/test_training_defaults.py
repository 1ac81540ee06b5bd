"""Dropout, drop path and BatchNorm momentum are training settings, not spec fields: each model's defaults live with
its registry entry (its name's, else its family's) and travel on its card; the recipe, `load_model` and `build`
override them, and the spec never holds them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import effnet
from effnet.architecture.scaling import dropout_for_phi
from effnet.architecture.spec import SpecError
from effnet.architecture.training_defaults import TrainingDefaults
from effnet.architecture.zoo import training_defaults
from effnet.cli import main
from effnet.train import TrainConfig, Trainer, load_recipe

TINY = {"width": 0.25, "depth": 0.1, "image_size": 32}


def built(model: torch.nn.Module) -> tuple[float, float]:
    """(classifier dropout, BatchNorm momentum) of a built module."""
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert len(momenta) == 1
    return model.dropout.p, momenta.pop()


@pytest.mark.parametrize(("name", "expected"), [
    ("efficientnet-b0", TrainingDefaults(0.2, 0.2, 0.01)),
    ("efficientnet-b7", TrainingDefaults(0.5, 0.2, 0.01)),
    ("efficientnet-lite4", TrainingDefaults(0.3, 0.2, 0.01)),
    ("efficientnet-b0-small", TrainingDefaults(0.2, 0.2, 0.01)),
    ("resnet50", TrainingDefaults(0.0, 0.0, 0.1)),
    ("mobilenet-v2", TrainingDefaults(0.2, 0.0, 0.1)),
    ("squeezenet1-1", TrainingDefaults(0.5, 0.0, 0.1)),
])
def test_each_model_has_its_registered_training_defaults(name: str, expected: TrainingDefaults) -> None:
    spec = effnet.get_spec(name)
    assert not {"dropout", "drop_path", "bn_momentum"} & set(spec.to_dict())
    assert training_defaults(spec) == expected == effnet.model_card(name).training
    scaled = training_defaults(effnet.scale(name, width=0.5))  # another network: its family's defaults
    assert (scaled.drop_path, scaled.bn_momentum) == (expected.drop_path, expected.bn_momentum)


def test_build_and_load_model_build_alike_and_take_the_three_keywords() -> None:
    spec = effnet.scale("efficientnet-b3", **TINY)
    assert effnet.build(spec).card.training == effnet.load_model(spec).card.training == TrainingDefaults()
    model = effnet.build(effnet.get_spec("resnet18"), num_classes=3, dropout=0.25, bn_momentum=0.2)
    assert built(model) == (0.25, 0.2) and model.card.training == TrainingDefaults(0.25, 0.0, 0.2)
    model = effnet.create_model("efficientnet-b3", num_classes=3, drop_path=0.3, **TINY)
    assert model.card.training == TrainingDefaults(0.3, 0.3, 0.01) and built(model) == (0.3, 0.01)
    assert effnet.model_card("efficientnet", phi=-1).training.dropout == dropout_for_phi(-1)


def test_a_spec_has_no_training_settings_to_set(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="dropout: training setting"):
        effnet.resolve_spec("efficientnet-b0", dropout=0.3)
    with pytest.raises(SpecError, match="drop_path: training setting"):
        effnet.scale("efficientnet-b0", width=2.0, drop_path=0.3)
    with pytest.raises(SpecError, match="must be in"):
        effnet.load_model("efficientnet-b0", dropout=1.5, **TINY)


def test_a_saved_model_takes_training_settings_but_not_shapes(tmp_path: Path) -> None:
    effnet.save_pretrained(effnet.create_model("efficientnet-b0", num_classes=3, **TINY), tmp_path / "saved")
    model = effnet.load_model(tmp_path / "saved", dropout=0.1, bn_momentum=0.3)
    assert built(model) == (0.1, 0.3)
    with pytest.raises(SpecError, match="width cannot change it"):
        effnet.load_model(tmp_path / "saved", width=2.0)


def test_the_recipe_trains_with_its_settings_and_none_keeps_the_models(tmp_path: Path) -> None:
    def trained(recipe: dict[str, str]) -> TrainingDefaults:
        config = TrainConfig(model="efficientnet-b7", model_options=dict(TINY), output=str(tmp_path / "run"),
                             recipe=load_recipe("small-data", recipe))
        return Trainer(config)._model(10).card.training

    assert trained({}) == TrainingDefaults(0.1, 0.1, 0.1)  # small-data sets all three
    assert trained({"dropout": "none", "drop_path": "none", "bn_momentum": "none"}) == TrainingDefaults(0.5, 0.2,
                                                                                                         0.01)


def test_a_scaled_spec_file_carries_the_training_defaults_of_its_phi(tmp_path: Path, capsys) -> None:
    assert main(["scale", "efficientnet-b0", "--phi", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["training"]["dropout"] == dropout_for_phi(2) and "dropout" not in data["spec"]
    path = tmp_path / "b0-phi2.json"
    path.write_text(json.dumps(data))
    assert effnet.resolve_source(path).training.dropout == dropout_for_phi(2)
    assert effnet.get_spec(path) == effnet.scale("efficientnet-b0", phi=2)
