"""Mistakes that used to pass silently are now said: evaluating on data of other classes, a run folder inside
the data folder, two runs into one folder at once, a killed worker, two models under one label, and names with
newlines or terminal escape codes printed raw."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

import effnet
from effnet.cli import main
from effnet.engine import Engine, Plan, TrialContext
from effnet.outputs import printable, run_lock
from test_data import make_image_folder

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.1).replace(resolution=16, name="tiny")


def one_line_exit_2(capsys, argv: list[str], expect: str) -> None:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and expect in err, (code, err)


@pytest.fixture
def folder_data(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "images", classes=3, per_class=2, size=16)


def _trained(tmp_path: Path, data: Path) -> Path:
    spec = tmp_path / "tiny.json"
    spec.write_text(TINY.to_json())
    out = tmp_path / "run"
    assert main(["train", "--model", str(spec), "--data", str(data), "--epochs", "1", "--batch-size", "2",
                 "--output", str(out), "--no-progress", "--recipe", "proxy"]) == 0
    return out


def test_eval_on_data_of_other_classes_is_refused(tmp_path: Path, folder_data: Path, capsys) -> None:
    run = _trained(tmp_path, folder_data)
    other = make_image_folder(tmp_path / "other", classes=3, per_class=2, size=16)
    (other / "val" / "class2").rename(other / "val" / "zebra")  # same count, another class
    capsys.readouterr()
    one_line_exit_2(capsys, ["eval", "--weights", str(run / "last.pt"), "--data", str(other)],
                    "the data's classes are not the model's")


def test_a_run_folder_inside_the_data_folder_is_refused(tmp_path: Path, folder_data: Path, capsys) -> None:
    one_line_exit_2(capsys, ["train", "--model", "efficientnet-b0-small", "--data", str(folder_data), "--output",
                             str(folder_data / "train" / "run"), "--no-progress"], "is inside the data folder")
    assert not (folder_data / "train" / "run").exists()


def test_two_runs_into_one_folder_at_once_are_refused(tmp_path: Path, folder_data: Path, capsys) -> None:
    out = tmp_path / "shared"
    with run_lock(out):  # another process holds the folder (flock is per open file, as between processes)
        one_line_exit_2(capsys, ["train", "--model", "efficientnet-b0-small", "--width", "0.25", "--depth", "0.1",
                                 "--resolution", "16", "--data", str(folder_data), "--epochs", "1", "--batch-size",
                                 "2", "--output", str(out), "--no-progress"], "is writing")
    assert not (out / "last.pt").exists()


def suicide(params: dict, context: TrialContext) -> dict:
    context.folder.mkdir(parents=True, exist_ok=True)
    if params["x"] == 1 and not (context.folder / "died").exists():
        (context.folder / "died").touch()
        os.kill(os.getpid(), signal.SIGKILL)  # once: as a worker killed from outside
    return {"value": float(params["x"])}


def test_a_worker_killed_from_outside_is_reported(tmp_path: Path) -> None:
    engine = Engine(Plan("toy-study", {"n": 2}, ({"x": 0}, {"x": 1})), tmp_path / "study")
    with pytest.warns(UserWarning, match="ended with signal SIGKILL; its trial runs again"):
        counts = engine.run("test_silent_mistakes:suicide", workers=2, progress=False)
    assert counts["done"] == 2  # the other worker... or the next round of this run took the trial again


def test_two_models_under_one_label_are_refused(tmp_path: Path, capsys) -> None:
    one_line_exit_2(capsys, ["experiment", "compare", "a=mobilenet-v2", "a=efficientnet-b0-small", "--data",
                             "fashion-mnist", "--output", str(tmp_path / "cmp"), "--no-progress"],
                    "two models are labelled 'a'")


def test_names_with_newlines_and_escape_codes_are_printed_escaped(tmp_path: Path, folder_data: Path,
                                                                 capsys) -> None:
    assert printable("a\nb\x1b[31mc\td") == "a\\nb\\x1b[31mc\\td"
    run = _trained(tmp_path, folder_data)
    source = next((folder_data / "val" / "class0").iterdir())
    hostile = tmp_path / "evil\nname\x1b[2J.png"
    hostile.write_bytes(source.read_bytes())
    capsys.readouterr()
    assert main(["predict", str(hostile), "--weights", str(run / "last.pt")]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\nname\\x1b[2J.png" in out
    one_line_exit_2(capsys, ["predict", str(tmp_path / "gone\x1b[2J.png"), "--weights", str(run / "last.pt")],
                    "gone\\x1b[2J.png")
