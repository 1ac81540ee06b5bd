"""Tracebacks that remained, each now one line and exit code 2: trainer checkpoints crafted or mismatched on
`--resume` (missing keys, wrong shapes, wrong types, other optimizer groups, garbage state), a corrupt or
hand-edited study journal, `journal:` storage URLs, impossible recipe magnitudes, integers too long to convert,
big-endian IDX files, and checkpoints whose `in_chans` has the wrong type."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from effnet.cli import main
from test_data import make_fashion

TRAIN = ["train", "--model", "efficientnet-b0-small", "--width", "0.25", "--depth", "0.1", "--resolution", "16",
         "--data", "fashion-mnist", "--batch-size", "8", "--epochs", "2", "--max-steps", "2", "--no-progress",
         "--recipe", "proxy"]


def one_line_exit_2(capsys, argv: list[str], expect: str) -> str:
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("effnet: error:"), (argv, code, err)
    assert expect in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_fashion(tmp_path_factory.mktemp("data"), n_train=16, n_test=16)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data: Path) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    assert main([*TRAIN, "--data-dir", str(data), "--output", str(out)]) == 0
    return out


def _first_key(state: dict) -> None:
    state["model_state"].pop(next(iter(state["model_state"])))


CRAFTED = {
    "a missing weight": _first_key,
    "a weight of the wrong shape": lambda d: d["model_state"].__setitem__("classifier.weight", torch.zeros(3, 3)),
    "an epoch that is not a number": lambda d: d.__setitem__("epoch", "one"),
    "another optimizer's parameter groups": lambda d: d["optimizer"]["param_groups"].append(
        dict(d["optimizer"]["param_groups"][0])),
    "no optimizer state": lambda d: d.pop("optimizer"),
    "a history that is not a list": lambda d: d.__setitem__("history", 5),
    "garbage random-number states": lambda d: d.__setitem__("rng", {"torch": torch.zeros(3)}),
    "another scheduler's state": lambda d: d.__setitem__("scheduler", {"x": 1}),
}


@pytest.mark.parametrize("case", sorted(CRAFTED))
def test_a_crafted_checkpoint_on_resume_is_one_line(tmp_path: Path, data: Path, run: Path, capsys, case) -> None:
    crafted = tmp_path / "crafted"
    shutil.copytree(run, crafted)
    state = torch.load(crafted / "last.pt", weights_only=True)
    CRAFTED[case](state)
    torch.save(state, crafted / "last.pt")
    one_line_exit_2(capsys, [*TRAIN, "--data-dir", str(data), "--output", str(crafted), "--resume"],
                    "cannot resume from")


def test_a_checkpoint_whose_in_chans_is_not_a_number_is_one_line(tmp_path: Path, data: Path, run: Path,
                                                                  capsys) -> None:
    state = torch.load(run / "last.pt", weights_only=True)
    state["in_chans"] = [3]
    torch.save(state, tmp_path / "bad.pt")
    one_line_exit_2(capsys, ["eval", "--weights", str(tmp_path / "bad.pt"), "--data", "fashion-mnist", "--data-dir",
                             str(data)], "corrupt trainer checkpoint (in_chans")


def _write_idx(path: Path, array: np.ndarray, code: int) -> None:
    path.write_bytes(bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
                     + array.tobytes())


def test_a_big_endian_idx_file_is_one_line(tmp_path: Path, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for prefix in ("train", "t10k"):
        _write_idx(data / f"{prefix}-images-idx3-ubyte", np.ones((8, 28, 28), dtype=">i2"), 0x0B)
        _write_idx(data / f"{prefix}-labels-idx1-ubyte", np.zeros(8, dtype=np.uint8), 0x08)
    one_line_exit_2(capsys, [*TRAIN, "--data-dir", str(data), "--output", str(tmp_path / "out")],
                    "Fashion-MNIST images are unsigned bytes")


@pytest.mark.parametrize("case, argv, expect", [
    ("an lr of 1e300", ["--set", "lr=1e300"], "invalid lr"),
    ("a weight decay of 1e300", ["--set", "weight_decay=1e300"], "invalid weight_decay"),
    ("an integer of 5000 digits", ["--seed", "9" * 5000], "invalid int value"),
])
def test_impossible_magnitudes_are_one_line(tmp_path: Path, data: Path, capsys, case, argv, expect) -> None:
    one_line_exit_2(capsys, [*TRAIN, "--data-dir", str(data), "--output", str(tmp_path / "out"), *argv], expect)


STUDY = ["experiment", "scaling", "efficientnet-b0-small", "--resolution", "16", "--budgets", "2x", "--methods",
         "width", "--epochs", "1", "--limit-train", "16", "--limit-val", "16", "--limit-test", "16", "--batch-size",
         "8", "--no-progress"]


def test_journal_urls_and_corrupt_journals_are_one_line(tmp_path: Path, data: Path, capsys) -> None:
    args = [*STUDY, "--data", "fashion-mnist", "--data-dir", str(data)]
    one_line_exit_2(capsys, [*args, "--output", str(tmp_path / "a"), "--storage", "journal:/no/such/folder/j.log"],
                    "does not exist")
    folder = tmp_path / "b"
    assert main([*args, "--output", str(folder)]) == 0
    capsys.readouterr()
    journal = folder / "study.journal"
    journal.write_text("not json at all\n" * 3)
    one_line_exit_2(capsys, [*args, "--output", str(folder)], "cannot read the study journal")
