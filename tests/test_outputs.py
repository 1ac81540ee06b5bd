"""Atomic outputs: the target is replaced in one rename, left alone on failure, with the usual permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from effnet.outputs import atomic_path


def test_success_replaces_the_target_with_umask_permissions(tmp_path: Path) -> None:
    target = tmp_path / "out.onnx"
    target.write_text("old")
    previous = os.umask(0o027)
    try:
        with atomic_path(target) as temp:
            assert temp.parent == tmp_path and temp.suffix == ".onnx" and temp != target
            temp.write_text("new")
            assert target.read_text() == "old"  # nothing visible until the block succeeds
    finally:
        os.umask(previous)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # not mkstemp's 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.onnx"]


def test_failure_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "last.pt"
    target.write_text("good checkpoint")
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as temp:
        temp.write_text("half")
        raise KeyboardInterrupt
    assert target.read_text() == "good checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_bad_targets_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError, match="is a directory"), atomic_path(tmp_path):
        pass
    with pytest.raises(FileNotFoundError, match="does not exist"), atomic_path(tmp_path / "missing" / "x.png"):
        pass
