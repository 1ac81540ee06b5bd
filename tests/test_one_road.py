"""One road for every model: the same real Lite0 weights give the same probabilities through the Python API,
`effnet predict` (torch and onnxruntime), `effnet cam` and `effnet demo`; a custom operator registered through the
public API alone builds, profiles and has feature taps; `effnet eval` of a finished run reproduces its val_top1."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from PIL import Image
from skimage import data
from torch import nn

import effnet
from effnet.cli import main
from effnet.commands.demo import sample_predictions
from effnet.viz import class_activation_map
from test_data import make_fashion


@pytest.fixture(scope="module")
def chelsea(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("one-road") / "chelsea.png"
    Image.fromarray(data.chelsea()).save(path)
    return path


@pytest.fixture(scope="module")
def reference(chelsea) -> dict[int, float]:
    """The Python API: create_model(pretrained=True) + predict, top 5 of chelsea."""
    model = effnet.create_model("efficientnet-lite0", pretrained=True)
    top = effnet.predict(model, [chelsea], top_k=5)[0]["top"]
    return {row["index"]: row["prob"] for row in top}


def _cli_top(capsys, *argv: str) -> dict[int, float]:
    assert main(list(argv)) == 0
    rows = json.loads(capsys.readouterr().out)[0]["top"]
    return {row["index"]: row["prob"] for row in rows}


def test_every_entry_point_gives_the_same_probabilities(capsys, chelsea, reference) -> None:
    assert next(iter(reference)) in range(281, 286)  # a cat, so the comparison means something
    # effnet predict, torch (the inference path) -- padding/bn-eps not given must not erase the entry's settings
    torch_path = _cli_top(capsys, "predict", str(chelsea), "--model", "efficientnet-lite0", "--pretrained",
                          "--top-k", "5", "--json")
    assert list(torch_path) == list(reference)
    assert max(abs(torch_path[k] - reference[k]) for k in reference) <= 1e-4
    # effnet predict, plain eager model
    eager = _cli_top(capsys, "predict", str(chelsea), "--pretrained", "--no-optimize", "--top-k", "5", "--json")
    assert max(abs(eager[k] - reference[k]) for k in reference) <= 1e-4
    # effnet predict through ONNX Runtime
    onnx = _cli_top(capsys, "predict", str(chelsea), "--pretrained", "--runtime", "onnxruntime", "--top-k", "5",
                    "--json")
    assert list(onnx) == list(reference) and max(abs(onnx[k] - reference[k]) for k in reference) <= 1e-3
    # effnet cam: its prediction, through the library call the command makes and through the command itself
    model = effnet.load_model("efficientnet-lite0", pretrained=True)
    top_index = next(iter(reference))
    result = class_activation_map(model, Image.open(chelsea))
    assert result.class_index == top_index and abs(result.probability - reference[top_index]) <= 1e-4
    out = chelsea.parent / "cam.png"
    assert main(["cam", str(chelsea), "--pretrained", "--output", str(out), "--overwrite"]) == 0
    printed = float(capsys.readouterr().out.rsplit("p=", 1)[1].rstrip(")\n"))
    assert abs(printed - reference[top_index]) <= 5e-4  # printed to 3 decimals
    # effnet demo's code path
    _, results = sample_predictions({"chelsea": data.chelsea()}, top_k=5)
    demo = {row["index"]: row["prob"] for row in results[0]["top"]}
    assert list(demo) == list(reference) and max(abs(demo[k] - reference[k]) for k in reference) <= 1e-4


def test_an_explicit_option_wins_and_an_absent_one_erases_nothing() -> None:
    kept = effnet.load_model("efficientnet-lite0", pretrained=True, padding=None, bn_eps=None)
    assert (kept.spec.padding, kept.spec.bn_eps) == ("same", 1e-3)
    overridden = effnet.load_model("efficientnet-lite0", pretrained=True, padding="symmetric", bn_eps=1e-5)
    assert (overridden.spec.padding, overridden.spec.bn_eps) == ("symmetric", 1e-5)


class _Doubler(nn.Module):
    """A custom block: a 3x3 conv whose output is added to itself (enough to prove the road works)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride, kernel // 2, bias=False)
        self.pool = nn.MaxPool2d(2) if stride > 1 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(self.conv(x))
        return y + y


def test_a_custom_operator_through_the_public_api_alone() -> None:
    def build(stage: effnet.Stage, ctx: effnet.BlockContext) -> nn.Module:
        return _Doubler(ctx.in_ch, stage.channels, stage.kernel, ctx.stride)

    def count(stage: effnet.Stage, site: effnet.Site, tally: effnet.Tally) -> int:
        size = tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride, bn=False)
        return size // 2 if site.stride > 1 else size

    def reduction(stage: effnet.Stage, stride: int) -> int:
        return stride * 2 if stride > 1 else 1  # the conv's stride, then the pool

    effnet.register_operator("doubler", build=build, count=count, reduction=reduction, replace=True)
    assert "doubler" in effnet.list_operators()
    spec = effnet.NetSpec("custom", effnet.Stage("conv", 1, 3, 2, 8),
                          (effnet.Stage("doubler", 2, 3, 2, 16), effnet.Stage("mbconv", 1, 3, 2, 24, expand=4)),
                          effnet.Stage("conv", 1, 1, 1, 32), resolution=64)
    model = effnet.build(spec, num_classes=5)
    profile = effnet.profile(spec, num_classes=5)
    assert profile.params == sum(p.numel() for p in model.parameters())
    measured = effnet.architecture.profiling.measure(model, 64)
    assert measured.macs == profile.macs
    assert model.feature_info == [{"stage": 0, "channels": 16, "reduction": 8},
                                  {"stage": 1, "channels": 24, "reduction": 16}]
    features = effnet.build(spec, features_only=True)(torch.zeros(1, 3, 64, 64))
    reductions = [64 // f.shape[-1] for f in features]
    assert reductions == [level["reduction"] for level in model.feature_info]
    with pytest.raises(effnet.SpecError, match="already registered"):
        effnet.register_operator("doubler", build=build, count=count)


def test_feature_taps_come_from_building_and_match_real_maps() -> None:
    for name in ("efficientnet-b0", "resnet18", "squeezenet1-0", "xception", "shufflenet-v2-x1-0", "mobilenet-v1"):
        size = 128 if name == "xception" else 96
        model = effnet.build(effnet.get_spec(name), features_only=True)
        with torch.no_grad():
            maps = model(torch.zeros(1, 3, size, size))
        # unpadded and ceil-mode layers make sizes uneven: the nominal stride is the nearest power of two
        measured = [2 ** round(math.log2(size / m.shape[-1])) for m in maps]
        assert measured == [level["reduction"] for level in model.feature_info], name


def test_eval_of_a_finished_run_reproduces_its_val_top1(tmp_path: Path, capsys) -> None:
    data_dir = make_fashion(tmp_path / "data", n_train=48, n_test=40)
    run = tmp_path / "run"
    args = ["train", "--model", "efficientnet", "--width", "0.25", "--depth", "0.2", "--resolution", "24",
            "--data", "fashion-mnist", "--data-dir", str(data_dir), "--output", str(run), "--recipe", "small-data",
            "--epochs", "2", "--batch-size", "8", "--no-progress", "--set", "crop_fraction=0.75"]
    assert main(args) == 0
    capsys.readouterr()
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for weights in (run / "last.pt", run / "pretrained"):
        assert main(["eval", "--weights", str(weights), "--data", "fashion-mnist", "--data-dir", str(data_dir),
                     "--json"]) == 0
        result = json.loads(capsys.readouterr().out)
        assert result["crop_fraction"] == 0.75 and result["resolution"] == 24
        assert result["model"]["top1"] == rows[-1]["val_top1"]
        assert result["model"]["loss"] == pytest.approx(rows[-1]["val_loss"], rel=1e-5)
    assert result.get("ema") is None
    assert main(["eval", "--weights", str(run / "last.pt"), "--data", "fashion-mnist", "--data-dir",
                 str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ema"]["top1"] == rows[-1]["ema_top1"]
    # predict reads a trainer checkpoint too (it used to fail: "entry 'format' is a str, not a tensor")
    image = tmp_path / "shirt.png"
    Image.fromarray(data.camera()[:64, :64]).save(image)
    assert main(["predict", str(image), "--weights", str(run / "last.pt"), "--json", "--top-k", "2"]) == 0
    labels = [row["label"] for row in json.loads(capsys.readouterr().out)[0]["top"]]
    assert all(label in ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot") for label in labels)
