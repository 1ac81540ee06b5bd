"""Export to every format, verified at two resolutions with batch sizes 1 and 2; failures are errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from effnet.cli import main
from effnet.deploy.export import (
    FORMATS,
    SUFFIXES,
    OnnxRuntimeModel,
    OnnxRuntimeModule,
    VerificationError,
    export,
    verify,
)
from effnet.errors import InputError
from effnet.hub.weights import save_pretrained
from test_inference import tiny


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_verifies_at_two_resolutions(fmt: str, tmp_path: Path) -> None:
    model = tiny()
    path = export(model, tmp_path / f"m{SUFFIXES[fmt]}", fmt, resolution=64, dynamic_batch=True)
    assert path.is_file() and [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp files left
    diff = verify(model, path, fmt, resolutions=(64, 96), batch_sizes=(1, 2))
    assert 0 <= diff <= 1e-4
    if fmt == "onnx":  # the ONNX Runtime runner that predict/bench use
        runner = OnnxRuntimeModel(path, threads=1)
        x = torch.randn(3, 3, 80, 80)
        with torch.no_grad():
            assert (runner(x) - model(x)).abs().max() <= 1e-4
        module = OnnxRuntimeModule(runner, model)  # the face predict/bench use for --runtime onnxruntime
        assert module.spec is model.spec and (module(x) - runner(x)).abs().max() == 0


def test_verify_catches_a_different_model(tmp_path: Path) -> None:
    model = tiny()
    path = export(model, tmp_path / "m.pt", "torchscript", resolution=64)
    with torch.no_grad():
        model.classifier.bias.add_(0.5)
    with pytest.raises(VerificationError):
        verify(model, path, resolution=64)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unsupported export format"):
        export(tiny(), tmp_path / "m.x", "tflite")
    garbage = tmp_path / "bad.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load"):
        OnnxRuntimeModel(garbage)


def test_cli_export_from_directory_prints_difference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save_pretrained(tiny(), tmp_path / "saved")
    out = tmp_path / "b0.pt"
    code = main(["export", str(tmp_path / "saved"), "--format", "torchscript", "--output", str(out)])
    assert code == 0 and out.is_file()
    assert "max abs difference" in capsys.readouterr().out


def test_cli_export_bad_format_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "efficientnet-b0", "--format", "coreml", "--output", str(tmp_path / "m")])
    assert code == 2
    assert "unsupported export format" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
