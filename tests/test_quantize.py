"""Int8 static quantization with ONNX Runtime: a QDQ model that stays close to fp32; labelled-set handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from PIL import Image

from effnet.cli import main
from effnet.deploy.export import OnnxRuntimeModel, export
from effnet.deploy.quantize import Sample, calibration_samples, compare, labelled_samples, quantize_onnx
from effnet.errors import InputError
from effnet.model.preprocessing import Preprocessing
from test_inference import tiny


def _images(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    for index in range(count):
        Image.fromarray(rng.integers(0, 255, (40, 50, 3), dtype=np.uint8)).save(folder / f"{index}.png")


def test_quantize_tiny_model(tmp_path: Path) -> None:
    fp32_path = export(tiny("efficientnet-lite0"), tmp_path / "m.onnx", "onnx", resolution=64)
    config = Preprocessing(64, crop_pct=64 / (64 + 32))
    calibration = calibration_samples("skimage", config, limit=8)
    assert len(calibration) == 8 and tuple(calibration[0].image.shape) == (3, 64, 64)
    int8_path = quantize_onnx(fp32_path, tmp_path / "m.int8.onnx", calibration)
    ops = {node.op_type for node in onnx.load(str(int8_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.int8.onnx", "m.onnx"]
    fp32, int8 = OnnxRuntimeModel(fp32_path), OnnxRuntimeModel(int8_path)
    x = calibration[0].image[None].numpy()
    a, b = fp32.run_numpy(x), int8.run_numpy(x)
    assert np.abs(a - b).max() < 0.25 * np.abs(a).max()  # close, yet not bit-equal: it is really int8
    assert not np.array_equal(a, b)
    labelled = [Sample(s.image, (int(fp32.run_numpy(s.image[None].numpy())[0].argmax()),)) for s in calibration]
    result = compare(fp32, fp32, labelled)
    assert result.agreement == 1.0 and result.fp32_accuracy == 1.0 and result.accuracy_change == 0.0


def test_labelled_folder(tmp_path: Path) -> None:
    (tmp_path / "281").mkdir()
    _images(tmp_path / "281", 2)
    samples = labelled_samples(tmp_path, Preprocessing(32, crop_pct=32 / (32 + 32)))
    assert [s.labels for s in samples] == [(281,), (281,)]
    (tmp_path / "cats").mkdir()
    _images(tmp_path / "cats", 1)
    with pytest.raises(InputError, match="class index"):
        labelled_samples(tmp_path, Preprocessing(32, crop_pct=32 / (32 + 32)))
    with pytest.raises(InputError, match="no images"):
        calibration_samples(_empty(tmp_path), Preprocessing(32, crop_pct=32 / (32 + 32)))


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_builtin_labelled_set_is_offline() -> None:
    samples = labelled_samples("skimage-imagenet", Preprocessing(32, crop_pct=32 / (32 + 32)))
    assert len(samples) == 40 and all(s.labels for s in samples)


def test_cli_unreadable_model_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"garbage")
    assert main(["quantize", str(bad), "--output", str(tmp_path / "q.onnx")]) == 2
    assert "cannot load" in capsys.readouterr().err


def test_named_dataset_calibration_and_labelled_set(tmp_path: Path) -> None:
    from test_data import make_fashion

    root = make_fashion(tmp_path / "fmnist", n_train=40, n_test=12)
    config = Preprocessing(32, crop_pct=32 / (32 + 32))
    calibration = calibration_samples("fashion-mnist", config, limit=8, data_dir=root)
    assert len(calibration) == 8 and tuple(calibration[0].image.shape) == (3, 32, 32)
    labelled = labelled_samples("fashion-mnist", config, limit=5, data_dir=root)
    assert len(labelled) == 5 and all(len(s.labels) == 1 and 0 <= s.labels[0] < 10 for s in labelled)
    assert len(labelled_samples("fashion-mnist", config, data_dir=root)) == 12
    from effnet.data import fashion_mnist

    truth = fashion_mnist("test", root)
    assert [s.labels[0] for s in labelled] == [truth[i][1] for i in range(5)]
    with pytest.raises(InputError, match="fashion-mnist not found"):
        labelled_samples("fashion-mnist", config, data_dir=tmp_path / "nowhere")


def test_cli_quantize_on_a_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from test_data import make_fashion

    root = make_fashion(tmp_path / "fmnist", n_train=16, n_test=6)
    fp32 = export(tiny("efficientnet-lite0"), tmp_path / "m.onnx", "onnx", resolution=32)
    code = main(["quantize", str(fp32), "--output", str(tmp_path / "q.onnx"), "--calibration", "fashion-mnist",
                 "--labelled", "fashion-mnist", "--data-dir", str(root), "--num-calibration", "4",
                 "--resolution", "32", "--calibration-method", "percentile", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 6 and 0.0 <= result["agreement"] <= 1.0
    assert main(["quantize", str(fp32), "--output", str(tmp_path / "q2.onnx"), "--num-labelled", "0"]) == 2


def _activation_scales(path: Path) -> dict[str, float]:
    """Scale of every QuantizeLinear on an activation (weights are stored quantized; their Q nodes fold away)."""
    from onnx import numpy_helper

    model = onnx.load(str(path))
    values = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    return {node.input[0]: float(values[node.input[1]].max()) for node in model.graph.node
            if node.op_type == "QuantizeLinear" and node.input[0] not in values}


def test_calibration_methods_and_average_ranges(tmp_path: Path) -> None:
    """Averaged per-image extremes and percentile thresholds give ranges no wider than the extremes over
    all images (finer steps) and strictly narrower somewhere; every method gives a working int8 model; an
    unknown one is an error."""
    fp32_path = export(tiny("efficientnet-b0"), tmp_path / "m.onnx", "onnx", resolution=64)
    calibration = calibration_samples("skimage", Preprocessing(64, crop_pct=64 / (64 + 32)), limit=12)
    scales = {}
    for method in ("minmax-average", "minmax", "percentile"):
        path = quantize_onnx(fp32_path, tmp_path / f"{method}.onnx", calibration, method=method)
        assert np.isfinite(OnnxRuntimeModel(path).run_numpy(calibration[0].image[None].numpy())).all()
        scales[method] = _activation_scales(path)
    extremes = scales["minmax"]
    assert len(extremes) > 10
    for method, narrower_share in (("minmax-average", 5), ("percentile", 20)):
        clipped = scales[method]  # every method only narrows the extremes, and does narrow some ranges
        assert clipped.keys() == extremes.keys(), method
        assert all(clipped[k] <= extremes[k] * (1 + 1e-5) for k in clipped), method
        assert sum(clipped[k] < 0.9 * extremes[k] for k in clipped) >= len(clipped) // narrower_share, method
    with pytest.raises(InputError, match="unknown calibration method"):
        quantize_onnx(fp32_path, tmp_path / "x.onnx", calibration, method="kl")


def test_entropy_calibration_clips_ranges(tmp_path: Path) -> None:
    """The entropy method really searches thresholds (ONNX Runtime's defaults alone reduce it to min-max): on a
    small conv net its ranges stay inside the extremes and clip at least one activation."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 8, 3, padding=1), nn.SiLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4)).eval()
    fp32_path = export(net, tmp_path / "m.onnx", "onnx", resolution=32)
    calibration = calibration_samples("skimage", Preprocessing(32, crop_pct=32 / (32 + 32)), limit=6)
    extremes = _activation_scales(quantize_onnx(fp32_path, tmp_path / "minmax.onnx", calibration))
    clipped = _activation_scales(quantize_onnx(fp32_path, tmp_path / "entropy.onnx", calibration, method="entropy"))
    assert clipped.keys() == extremes.keys() and len(clipped) >= 4
    assert all(clipped[k] <= extremes[k] * (1 + 1e-5) for k in clipped)
    assert any(clipped[k] < 0.9 * extremes[k] for k in clipped)


def test_auto_calibration_picks_the_closest_method_and_records_it(tmp_path: Path) -> None:
    from effnet.deploy.quantize import calibration_report, divergence

    fp32_path = export(tiny("efficientnet-b0"), tmp_path / "m.onnx", "onnx", resolution=64)
    calibration = calibration_samples("skimage", Preprocessing(64, crop_pct=64 / (64 + 32)), limit=12)
    path = quantize_onnx(fp32_path, tmp_path / "auto.onnx", calibration, method="auto")
    report = calibration_report(path)
    assert report["chosen_by"] == "auto" and report["holdout_images"] == 3
    assert set(report["mean_kl"]) == {"minmax", "minmax-average", "percentile"}
    assert report["method"] == min(report["mean_kl"], key=report["mean_kl"].get)
    assert calibration_report(quantize_onnx(fp32_path, tmp_path / "p.onnx", calibration)) == {"method": "minmax"}
    fp32 = OnnxRuntimeModel(fp32_path)
    assert divergence(fp32, fp32, calibration[:2]) == pytest.approx(0.0, abs=1e-12)
    assert divergence(fp32, OnnxRuntimeModel(path), calibration[:2]) > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.onnx", "m.onnx", "p.onnx"]  # no trial files left
    with pytest.raises(InputError, match="at least 4"):
        quantize_onnx(fp32_path, tmp_path / "x.onnx", calibration[:3], method="auto")
