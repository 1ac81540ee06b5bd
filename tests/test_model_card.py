"""One resolver, one model card (issue 22, item 1): `effnet.resolve_source` classifies every way into a model and
reads it once, each source yields a `ModelCard`, and a module's `preprocessing` is a view of its card.

Spies count the walks the review found doubled: before, `load_model("efficientnet-lite0", pretrained=True)` called
the name's spec factory twice, `predict --weights last.pt` read the checkpoint twice and loading a save_pretrained
folder profiled its spec twice; each is once now."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from PIL import Image

import effnet
from effnet.architecture.zoo import registry
from effnet.cli import main
from effnet.deploy.export import METADATA_KEY
from effnet.hub.checkpoints import FORMAT
from effnet.hub.source import (
    OnnxFile,
    PretrainedFolder,
    RegisteredName,
    SpecFile,
    TrainerCheckpoint,
    WeightsFile,
    resolve_source,
)
from effnet.model.card import card_of, with_card
from test_data import make_fashion

TINY = {"width": 0.25, "depth": 0.1, "image_size": 32}
CLASSES = tuple(f"kind {i}" for i in range(10))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A tiny spec file, its save_pretrained folder, a plain weights file, a trainer checkpoint (with EMA weights),
    an ONNX file with effnet metadata, an image and a Fashion-MNIST-shaped data set."""
    root = tmp_path_factory.mktemp("card")
    spec = effnet.scale("efficientnet", **TINY)
    paths = {"spec": root / "tiny.json", "saved": root / "saved", "weights": root / "weights.pt",
             "checkpoint": root / "last.pt", "onnx": root / "model.onnx", "image": root / "image.png"}
    paths["spec"].write_text(json.dumps(spec.to_dict()))
    model = effnet.build(spec, num_classes=10)
    model.preprocessing = model.preprocessing.replace(labels=CLASSES)
    effnet.save_pretrained(model, paths["saved"])
    torch.save(model.state_dict(), paths["weights"])
    torch.save({"format": FORMAT, "spec": json.dumps(spec.to_dict()), "model": "tiny", "num_classes": 10,
                "in_chans": 3, "model_state": model.state_dict(),
                "ema_state": {f"module.{k}": v for k, v in model.state_dict().items()},
                "classes": list(CLASSES), "preprocessing": model.preprocessing.to_dict()}, paths["checkpoint"])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])])
    exported = helper.make_model(graph)
    entry = exported.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps({"preprocessing": model.preprocessing.to_dict(),
                                                      "num_classes": 10, "weights_origin": {"model": "tiny"}})
    onnx.save(exported, str(paths["onnx"]))
    Image.fromarray((np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)).save(paths["image"])
    paths["data"] = make_fashion(root / "data", n_train=8, n_test=8)
    return paths


class Spies:
    """Counting wrappers around effnet functions, wherever a module imported them; `calls[name]` holds each call's
    positional arguments."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.calls: dict[str, list[tuple[Any, ...]]] = {}

    def spy(self, owner: str, name: str) -> None:
        original = getattr(sys.modules[owner], name)
        calls = self.calls.setdefault(name, [])

        def counting(*args: Any, **kwargs: Any) -> Any:
            calls.append(args)
            return original(*args, **kwargs)

        for module in [m for key, m in sys.modules.items() if key == "effnet" or key.startswith("effnet.")]:
            if getattr(module, name, None) is original:
                self.monkeypatch.setattr(module, name, counting)

    def factory(self, model: str) -> None:
        original: Callable[[], effnet.NetSpec] = registry._REGISTRY[model]
        calls = self.calls.setdefault(f"factory {model}", [])

        def counting() -> effnet.NetSpec:
            calls.append(())
            return original()

        self.monkeypatch.setitem(registry._REGISTRY, model, counting)

    def count(self, name: str) -> int:
        return len(self.calls.get(name, []))

    def reset(self) -> None:
        for calls in self.calls.values():
            calls.clear()


@pytest.fixture
def spies(monkeypatch) -> Spies:
    spies = Spies(monkeypatch)
    for owner, name in (("effnet.hub.weights", "read_checkpoint"), ("effnet.hub.weights", "read_config"),
                        ("effnet.architecture.profiling", "analyze"), ("effnet.architecture.zoo.registry", "get_spec")):
        spies.spy(owner, name)
    return spies


def test_resolve_source_gives_each_kind_its_type(files) -> None:
    name = resolve_source("EfficientNet_Lite0.tf-in1k")
    assert isinstance(name, RegisteredName) and (name.name, name.tag) == ("efficientnet-lite0", "tf-in1k")
    assert name.weights is not None and name.weights.name == "efficientnet-lite0.tf-in1k"
    assert resolve_source("efficientnet-b0").weights is None  # a name without registered weights resolves too
    spec = resolve_source(files["spec"])
    assert isinstance(spec, SpecFile) and spec.path == files["spec"]
    assert resolve_source(spec.spec) == SpecFile(None, spec.spec)
    folder = resolve_source(files["saved"])
    assert isinstance(folder, PretrainedFolder) and folder.num_classes == 10 and folder.preprocessing.labels == CLASSES
    checkpoint = resolve_source(str(files["checkpoint"]))
    assert isinstance(checkpoint, TrainerCheckpoint) and checkpoint.spec == spec.spec
    assert checkpoint.origin["ema_available"] and checkpoint.preprocessing.labels == CLASSES
    weights = resolve_source(files["weights"])
    assert isinstance(weights, WeightsFile) and "stem.conv.weight" in weights.state()
    exported = resolve_source(files["onnx"])
    assert isinstance(exported, OnnxFile) and exported.metadata["num_classes"] == 10
    assert resolve_source(folder) is folder  # a resolved source is passed on as it is
    # each yields a card
    assert folder.card().weights == files["saved"] / "model.safetensors"
    assert checkpoint.card(ema=True).origin["ema"] is True
    assert exported.card().preprocessing.labels == CLASSES and exported.card().spec is None
    with pytest.raises(effnet.WeightsError, match="weights file without an architecture"):
        weights.card()
    with pytest.raises(effnet.UnknownModelError, match="did you mean efficientnet-lite"):
        resolve_source("efficientnet-lite9")


def test_a_registered_name_with_pretrained_weights_is_resolved_once(spies) -> None:
    spies.factory("efficientnet-lite0")
    model = effnet.load_model("efficientnet-lite0", pretrained=True)
    assert spies.count("factory efficientnet-lite0") == 1  # was 2 (pretrained_entry and resolve_spec each)
    assert spies.count("get_spec") == 0  # the resolver calls the factory itself
    assert spies.count("read_checkpoint") == 1 and spies.count("analyze") == 1  # the size check, once
    assert (model.spec.padding, model.spec.bn_eps) == ("same", 1e-3)
    assert model.weights_origin["tag"] == "tf-in1k"


def test_model_card_builds_nothing(spies) -> None:
    card = effnet.model_card("efficientnet-lite0", pretrained=True, num_classes=5, reset_head=True)
    assert card.spec.padding == "same" and card.num_classes == 5 and card.preprocessing.labels is None
    assert isinstance(card.weights, Path) and spies.count("analyze") == spies.count("read_checkpoint") == 0


def test_predict_with_a_trainer_checkpoint_reads_it_once(files, spies, capsys) -> None:
    assert main(["predict", str(files["image"]), "--weights", str(files["checkpoint"]), "--no-optimize",
                 "--top-k", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top"][0]["label"] in CLASSES
    assert spies.count("read_checkpoint") == 1  # was 2: classified by reading it, then loaded by reading it again


def test_eval_of_a_checkpoint_and_its_ema_reads_it_once(files, spies, capsys) -> None:
    fashion = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")
    checkpoint = torch.load(files["checkpoint"], weights_only=True)
    checkpoint["preprocessing"]["labels"] = list(fashion)
    path = files["checkpoint"].parent / "fashion.pt"
    torch.save(checkpoint, path)
    assert main(["eval", "--weights", str(path), "--data", "fashion-mnist", "--data-dir", str(files["data"]),
                 "--json"]) == 0
    assert {"model", "ema"} <= set(json.loads(capsys.readouterr().out))
    assert spies.count("read_checkpoint") == 1  # was 4: classified, then loaded -- for the model and its EMA twin


def test_a_saved_folder_is_read_once_and_profiled_once(files, spies, capsys) -> None:
    model = effnet.from_pretrained(files["saved"])
    assert spies.count("read_config") == 1 and spies.count("read_checkpoint") == 1
    assert spies.count("analyze") == 1  # was 2: the weights-file check and the build each profiled the spec
    assert model.preprocessing.labels == CLASSES and model.weights_origin["source"] == str(files["saved"])
    spies.reset()
    assert main(["predict", str(files["image"]), "--weights", str(files["saved"]), "--no-optimize", "--json"]) == 0
    capsys.readouterr()
    assert spies.count("read_config") == 1 and spies.count("read_checkpoint") == 1
    # one size check for loading; predict's own question -- activations per image at its input size -- is the other
    sizes = [args[1] if len(args) > 1 else None for args in spies.calls["analyze"]]
    assert sorted(sizes, key=str) == sorted([1024, model.preprocessing.input_size], key=str)


def test_preprocessing_is_a_view_of_the_card(files) -> None:
    model = effnet.load_model(files["saved"])
    card = card_of(model)
    assert card is model.card and card.weights is None  # the module holds the tensors
    assert model.preprocessing is card.preprocessing and model.weights_origin == card.origin
    assert model.pretrained_cfg["labels"] == list(CLASSES) and card.class_names == CLASSES
    wider = card.preprocessing.replace(crop_pct=1.0)
    with_card(model, card.replace(preprocessing=wider))
    assert model.preprocessing == wider and model.pretrained_cfg["crop_pct"] == 1.0
    model.preprocessing = wider.replace(input_size=48)  # the setter replaces the card's preprocessing
    assert model.card.preprocessing.input_size == 48 and model.card.spec == card.spec
    model.reset_classifier(4)
    assert model.card.num_classes == 4 and model.preprocessing.labels is None
    features = effnet.load_model(files["saved"], features_only=True)
    assert features.card == card and features.preprocessing.labels == CLASSES
    with pytest.raises(ValueError, match="must describe the module"):
        with_card(model, card)  # 10 classes: not this module's 4


def test_a_weights_file_is_read_once_and_named_in_its_errors(files, spies) -> None:
    model = effnet.load_model(files["spec"], weights=files["weights"], num_classes=10)
    assert spies.count("read_checkpoint") == 1  # was 2: probed for a trainer checkpoint, then loaded
    assert model.weights_origin == {"source": str(files["weights"])}
    named = "^" + re.escape(f"{files['weights']}: the checkpoint's classifier has 10")  # not "state dict: ..."
    with pytest.raises(effnet.WeightsError, match=named):
        effnet.load_model(files["spec"], weights=files["weights"], num_classes=5)
