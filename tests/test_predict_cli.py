"""`effnet predict` and the `effnet.predict` API: JSON format, labels, preprocessing, and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data

import effnet
from effnet.cli import main
from effnet.data.transforms import eval_transform
from effnet.deploy.prediction import predict
from effnet.hub.pretrained import pretrained_entry
from effnet.model.preprocessing import Preprocessing, load_image

CATS = range(281, 286)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("photos")
    paths = {"chelsea": folder / "chelsea.png", "coffee": folder / "coffee.jpg"}
    Image.fromarray(data.chelsea()).save(paths["chelsea"])
    Image.fromarray(data.coffee()).save(paths["coffee"], quality=95)
    return paths


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _check_format(results: list, images: list[str], k: int) -> None:
    assert isinstance(results, list) and [r["image"] for r in results] == images
    for result in results:
        assert set(result) == {"image", "top"} and len(result["top"]) == k
        for row in result["top"]:
            assert set(row) == {"index", "label", "prob"}
            assert isinstance(row["index"], int) and isinstance(row["label"], str) and 0 <= row["prob"] <= 1
        probs = [row["prob"] for row in result["top"]]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6


def test_cli_json_output(capsys, photos):
    images = [str(photos["chelsea"]), str(photos["coffee"])]
    code, out, err = _run(capsys, "predict", *images, "--model", "efficientnet-lite0", "--pretrained",
                          "--top-k", "3", "--json")
    assert code == 0, err
    results = json.loads(out)
    _check_format(results, images, 3)
    assert results[0]["top"][0]["index"] in CATS
    assert results[1]["top"][0]["index"] == 967 and results[1]["top"][0]["label"] == "espresso"


def test_cli_text_output(capsys, photos):
    code, out, _ = _run(capsys, "predict", str(photos["coffee"]), "--pretrained", "--top-k", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == str(photos["coffee"]) and len(lines) == 3
    assert "espresso" in lines[1] and "(class 967)" in lines[1]


def test_cli_weights_file_in_efficientnet_pytorch_naming(capsys, photos):
    path = pretrained_entry("efficientnet-lite0").path()
    code, out, err = _run(capsys, "predict", str(photos["coffee"]), "--weights", str(path), "--padding", "same",
                          "--bn-eps", "1e-3", "--top-k", "1", "--json")
    assert code == 0, err
    assert json.loads(out)[0]["top"][0]["index"] == 967


def test_cli_weights_directory_keeps_preprocessing(capsys, photos, tmp_path):
    model = effnet.create_model("efficientnet-lite0", pretrained=True)
    effnet.save_pretrained(model, tmp_path / "lite0")
    expected = predict(model, [photos["coffee"]], top_k=3)
    code, out, err = _run(capsys, "predict", str(photos["coffee"]), "--weights", str(tmp_path / "lite0"),
                          "--top-k", "3", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert [r["index"] for r in got[0]["top"]] == [r["index"] for r in expected[0]["top"]]
    assert got[0]["top"][0]["prob"] == pytest.approx(expected[0]["top"][0]["prob"], abs=1e-6)


def test_api_accepts_paths_arrays_and_pil(photos):
    model = effnet.create_model("efficientnet-lite0", pretrained=True)
    results = predict(model, [photos["coffee"], data.coffee(), Image.fromarray(data.coffee())], top_k=1)
    _check_format(results, [str(photos["coffee"]), "<image 1>", "<image 2>"], 1)
    assert all(r["top"][0]["index"] == 967 for r in results)
    assert model.training  # predict restores the mode it found


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("effnet: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    garbage = folder / "garbage.png"
    garbage.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 10)
    truncated = folder / "truncated.pth"
    truncated.write_bytes(pretrained_entry("efficientnet-lite0").path().read_bytes()[:500_000])
    return {"garbage": garbage, "truncated": truncated, "missing": folder / "nope.jpg"}


@pytest.mark.parametrize("case, argv, expect", [
    ("unreadable image", ["{garbage}", "--pretrained"], "cannot read image"),
    ("missing image", ["{missing}", "--pretrained"], "image not found"),
    ("unknown model", ["{chelsea}", "--model", "efficientnet-b99", "--pretrained"], "unknown model"),
    ("no local weights", ["{chelsea}", "--model", "efficientnet-b1", "--pretrained"], "no local pretrained weights"),
    ("truncated checkpoint", ["{chelsea}", "--weights", "{truncated}"], "truncated"),
    ("missing checkpoint", ["{chelsea}", "--weights", "{missing}.pth"], "checkpoint not found"),
    ("no weights at all", ["{chelsea}"], "needs weights"),
    ("bad top-k", ["{chelsea}", "--pretrained", "--top-k", "0"], "--top-k"),
])
def test_cli_errors_exit_2_with_one_line(capsys, photos, bad_files, case, argv, expect):
    names = {**{k: str(v) for k, v in bad_files.items()}, "chelsea": str(photos["chelsea"])}
    code, out, err = _run(capsys, "predict", *[arg.format(**names) for arg in argv])
    assert code == 2, case
    assert expect in _one_error_line(err)
    assert out == ""


def test_cli_error_names_the_file(capsys, bad_files):
    _, _, err = _run(capsys, "predict", str(bad_files["garbage"]), "--pretrained")
    assert str(bad_files["garbage"]) in err


def test_pretrained_and_weights_are_exclusive(capsys, photos):
    with pytest.raises(SystemExit) as info:
        main(["predict", str(photos["chelsea"]), "--pretrained", "--weights", "x.pth"])
    assert info.value.code == 2
    assert "not allowed with" in capsys.readouterr().err


def test_subprocess_error_has_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "effnet", "predict", str(tmp_path / "missing.png"), "--pretrained"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert _one_error_line(result.stderr) == f"effnet: error: image not found: {tmp_path / 'missing.png'}"


def test_transform_resizes_shorter_side_and_center_crops():
    # 300x200 image whose red channel is the column index: a center crop of 200 starts at column 50.
    columns = np.tile(np.arange(300, dtype=np.uint8), (200, 1))
    image = Image.fromarray(np.stack([columns] * 3, axis=-1))
    cfg = Preprocessing(200, crop_pct=1.0, interpolation="nearest", mean=(0, 0, 0), std=(1, 1, 1))
    out = eval_transform(cfg)(image)
    assert out.shape == (3, 200, 200)
    assert out[0, 0, 0].item() == pytest.approx(50 / 255) and out[0, 0, -1].item() == pytest.approx(249 / 255)
    half = eval_transform(cfg.replace(input_size=100, crop_pct=0.5))(image)  # shorter side -> 200, crop 100
    assert half.shape == (3, 100, 100) and half[0, 0, 0].item() == pytest.approx(100 / 255)
    normed = eval_transform(cfg.replace(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)))(image)
    assert torch.allclose(normed, (out - 0.5) / 0.5)


def test_load_image_converts_to_rgb(tmp_path):
    gray = tmp_path / "gray.png"
    Image.fromarray(data.camera()).save(gray)
    assert load_image(gray).mode == "RGB"
    with pytest.raises(effnet.InputError, match="not an image file"):
        load_image(tmp_path)
