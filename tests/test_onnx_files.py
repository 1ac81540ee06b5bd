"""Exports that verify what users train and ONNX files that carry their preprocessing: verification runs on inputs
the model's preprocessing produces, a failed one names --tolerance and leaves nothing at the output; an exported
ONNX file holds the preprocessing and class names, `predict --model x.onnx` runs it as it is, `quantize` calibrates
with its own normalisation and refuses a labelled set of other classes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

import effnet
from effnet.cli import main
from effnet.deploy.export import export, read_onnx_metadata, verify
from test_data import make_fashion

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.1).replace(resolution=32, name="tiny")
LABELS = ("cat", "dog", "owl")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = effnet.create_model(TINY, num_classes=3)
    model.preprocessing = model.preprocessing.replace(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), labels=LABELS)
    return effnet.save_pretrained(model, tmp_path / "model")


def test_verification_uses_inputs_the_models_preprocessing_produces(saved: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    model = effnet.load_model(saved)
    path = export(model, tmp_path / "m.onnx", "onnx")
    seen = []
    real = effnet.deploy.export.load_exported

    def spying(*args, **kwargs):
        runner = real(*args, **kwargs)
        return lambda images: seen.append(images) or runner(images)

    monkeypatch.setattr(effnet.deploy.export, "load_exported", spying)
    verify(model, path, "onnx")
    assert seen and all(float(x.min()) >= -1.0 - 1e-6 and float(x.max()) <= 1.0 + 1e-6 for x in seen)  # (p-.5)/.5


def test_a_failed_verification_names_tolerance_and_leaves_nothing(saved: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.onnx"
    code = main(["export", str(saved), "--output", str(out), "--tolerance", "1e-15"])
    err = capsys.readouterr().err
    assert code == 1 and "--tolerance T" in err and "nothing was written" in err and err.count("\n") == 1
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["model"]  # not even a temporary file
    out.write_text("an earlier file")
    assert main(["export", str(saved), "--output", str(out), "--tolerance", "1e-15", "--overwrite"]) == 1
    assert out.read_text() == "an earlier file"  # a failed export never replaces what was there


def test_an_onnx_file_carries_its_preprocessing_and_runs_as_it_is(saved: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", str(saved), "--output", str(out)]) == 0
    metadata = read_onnx_metadata(out)
    assert metadata["preprocessing"]["labels"] == list(LABELS) and metadata["preprocessing"]["mean"] == [0.5] * 3
    assert metadata["num_classes"] == 3
    Image.new("RGB", (40, 40), (200, 10, 10)).save(tmp_path / "red.png")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "red.png"), "--model", str(out), "--json"]) == 0
    onnx_result = json.loads(capsys.readouterr().out)
    assert main(["predict", str(tmp_path / "red.png"), "--model", str(saved), "--json", "--no-optimize"]) == 0
    torch_result = json.loads(capsys.readouterr().out)
    assert [row["label"] for row in onnx_result[0]["top"]] == [row["label"] for row in torch_result[0]["top"]]
    assert {row["label"] for row in onnx_result[0]["top"]} <= set(LABELS)
    for a, b in zip(onnx_result[0]["top"], torch_result[0]["top"]):
        assert a["prob"] == pytest.approx(b["prob"], abs=1e-4)


def test_quantize_uses_the_files_normalisation_and_refuses_other_classes(saved: Path, tmp_path: Path, capsys,
                                                                        monkeypatch) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", str(saved), "--output", str(out)]) == 0
    capsys.readouterr()
    assert main(["quantize", str(out), "--output", str(tmp_path / "q.onnx")]) == 2  # ImageNet photos, 3 classes
    assert "ImageNet's 1000 classes and the model has 3" in capsys.readouterr().err
    data = make_fashion(tmp_path / "data", n_train=16, n_test=16)
    assert main(["quantize", str(out), "--output", str(tmp_path / "q.onnx"), "--calibration", "fashion-mnist",
                 "--labelled", "fashion-mnist", "--data-dir", str(data)]) == 2
    assert "not the same classes" in capsys.readouterr().err
    import effnet.commands.quantize as command

    seen = []
    monkeypatch.setattr(command, "check_labelled_classes", lambda *args: None)
    real = command.calibration_samples
    monkeypatch.setattr(command, "calibration_samples", lambda source, config, *a, **k: seen.append(config)
                        or real(source, config, *a, **k))
    assert main(["quantize", str(out), "--output", str(tmp_path / "q.onnx"), "--num-calibration", "4",
                 "--num-labelled", "2"]) == 0
    assert seen[0].mean == (0.5, 0.5, 0.5) and seen[0].input_size == 32  # the file's own, not ImageNet's at 224


def test_the_onnxruntime_path_reuses_its_verified_export_and_bench_labels_its_rows(saved: Path, tmp_path: Path,
                                                                                 monkeypatch, capsys) -> None:
    from effnet.deploy import bench
    from effnet.deploy.export import to_onnxruntime

    monkeypatch.setenv("EFFNET_CACHE", str(tmp_path / "cache"))
    model = effnet.load_model(saved)
    exports = []
    real = effnet.deploy.export.export
    monkeypatch.setattr(effnet.deploy.export, "export", lambda *a, **k: exports.append(1) or real(*a, **k))
    first, second = to_onnxruntime(model), to_onnxruntime(model)
    assert len(exports) == 1 and len(list((tmp_path / "cache").glob("*.onnx"))) == 1  # the second one is reused
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(first(x), second(x))
    with torch.no_grad():
        model.classifier.bias.add_(1.0)  # other weights: another file, never a stale one
    to_onnxruntime(model)
    assert len(exports) == 2
    rows = bench.bench([str(saved)], runs=2, warmup=0, runtime="onnxruntime")
    assert [row.library for row in rows] == ["effnet (onnxruntime)"]
