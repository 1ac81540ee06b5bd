"""The recorded results under docs/results/ are what their committed raw data give: `effnet report` writes every
committed report again, from the committed results files alone, to the byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from effnet.cli import main
from effnet.errors import InputError
from effnet.experiments import report as report_module
from effnet.experiments.report import MAX_DEPTH, study_folders, write_reports

RECORD = Path(__file__).parents[1] / "docs" / "results" / "full-size"


def _committed(path: Path) -> bytes | None:
    """The file as the last commit holds it (None when it holds none): a run in progress may be rewriting it."""
    done = subprocess.run(["git", "-C", str(RECORD), "show", f"HEAD:./{path.relative_to(RECORD)}"],
                          capture_output=True)
    return done.stdout if done.returncode == 0 else None


def test_every_committed_report_is_what_its_committed_results_give(tmp_path: Path) -> None:
    copy = tmp_path / "record"
    reports = 0
    for folder in study_folders(RECORD):  # the committed files only, copied: no journal, no trials
        for name in ("study.json", "results.json", "coefficients.json", "report.md"):
            content = _committed(folder / name)
            if content is not None:
                (copy / folder.relative_to(RECORD)).mkdir(parents=True, exist_ok=True)
                (copy / folder.relative_to(RECORD) / name).write_bytes(content)
    written, _left = write_reports(copy, tmp_path / "again")
    for report in (path for path in written if path.name == "report.md"):
        committed = copy / report.relative_to(tmp_path / "again")
        assert report.read_text() == committed.read_text(), f"{committed.relative_to(copy)}: not what its results give"
        reports += 1
    assert reports >= 5  # the scaling study, the search and its confirm phase, the two convergence checks


def test_a_folder_of_studies_is_written_again_by_one_command(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty"
    (empty / "trials" / "x").mkdir(parents=True)
    (empty / "trials" / "x" / "study.json").write_text("{}")  # a run folder is never taken for a study
    assert main(["report", str(empty)]) == 2
    assert "holds no effnet study folder" in capsys.readouterr().err
    running = tmp_path / "running"
    running.mkdir()
    (running / "study.json").write_text('{"kind": "scaling-study"}')
    assert main(["report", str(running)]) == 2  # nothing can be written: refused, and why
    assert "no results.json yet" in capsys.readouterr().err
    damaged = tmp_path / "damaged" / "a"
    damaged.mkdir(parents=True)
    (damaged / "study.json").write_text("{not json")
    assert main(["report", str(tmp_path / "damaged")]) == 2 and "is damaged" in capsys.readouterr().err
    deep = tmp_path / "deep"
    (deep.joinpath(*["d"] * (MAX_DEPTH + 1))).mkdir(parents=True)
    (deep.joinpath(*["d"] * (MAX_DEPTH + 1)) / "study.json").write_text('{"kind": "scaling-study"}')
    with pytest.raises(InputError, match="holds no effnet study folder"):
        study_folders(deep)


def test_a_tree_too_large_to_look_through_is_refused_at_once(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(report_module, "MAX_SEARCHED", 20)
    for number in range(30):
        (tmp_path / f"folder-{number}").mkdir()
    with pytest.raises(InputError, match="more than 20 folders to look through"):
        study_folders(tmp_path)


def test_the_command_leaves_a_running_study_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "record"
    source = RECORD / "convergence-6"
    (folder / "done").mkdir(parents=True)
    for name in ("study.json", "results.json"):
        (folder / "done" / name).write_bytes((source / name).read_bytes())
    (folder / "running").mkdir()
    (folder / "running" / "study.json").write_bytes((source / "study.json").read_bytes())
    done = subprocess.run([sys.executable, "-m", "effnet", "report", str(folder)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {folder / 'done' / 'report.md'}"
    assert done.stderr.strip() == f"left {folder / 'running'}: no results.json yet (the study has not written one)"
