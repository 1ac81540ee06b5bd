"""The study benchmarks run unchanged at tiny settings: the trainer's overhead against a bare step, and trials per
hour read back from a study folder."""

from __future__ import annotations

import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_trainer_overhead_at_tiny_settings(tmp_path: Path, fashion_mnist: str) -> None:
    out = tmp_path / "overhead.json"
    result = run("benchmarks/trainer_overhead.py", "--resolution", "16", "--images", "64", "--batch", "16",
                 "--rounds", "1", "--data-dir", fashion_mnist, "--json", str(out))
    assert result.returncode == 0, result.stderr
    data = json.loads(out.read_text())
    row = data["rows"][0]
    assert row["bare_images_per_s"] > 0 and row["trainer_images_per_s"] > 0
    assert data["median_ratio"] == row["ratio"] and "trainer / bare" in result.stdout
    again = run("benchmarks/trainer_overhead.py", "--rounds", "1", "--json", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr  # never over an existing output


def test_study_throughput_reads_a_finished_study(tmp_path: Path, fashion_mnist: str) -> None:
    from effnet.engine import Engine, Plan

    engine = Engine(Plan("toy-study", {"n": 3}, tuple({"x": x} for x in range(3))), tmp_path / "study")
    engine.run("test_engine:toy", progress=False)
    result = run("benchmarks/study_throughput.py", str(tmp_path / "study"))
    assert result.returncode == 0, result.stderr
    assert "3 finished trials" in result.stdout and "trials per hour" in result.stdout
    assert run("benchmarks/study_throughput.py", str(tmp_path)).returncode == 2


def run_here(capsys, monkeypatch, name: str, *argv: str) -> tuple[int, str, str]:
    """Run a benchmark script as `python benchmarks/NAME ...` would, in this process (so the suite's stand-in
    latency applies; see conftest): (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", [name, *argv])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(ROOT / "benchmarks" / name), run_name="__main__")
    out = capsys.readouterr()
    return stop.value.code, out.out, out.err


def test_the_zero_init_and_multifidelity_benchmarks_run_at_tiny_settings(tmp_path: Path, fashion_mnist: str, capsys,
                                                                         monkeypatch) -> None:
    out = tmp_path / "zero.json"
    code, _, err = run_here(capsys, monkeypatch, "zero_init.py", "--output", str(tmp_path / "zero"), "--seeds", "1",
                            "--limit-train", "32", "--baseline-width", "0.25", "--data-dir", fashion_mnist, "--json",
                            str(out))
    assert code == 0, err
    rows = json.loads(out.read_text())["rows"]
    assert [r["network"] for r in rows] == ["baseline 1x", "depth 2x", "depth 4x"]
    assert all(len(r["zero_init_val_top1"]) == len(r["tf_init_val_top1"]) == 1 for r in rows)
    out = tmp_path / "mf.json"
    code, stdout, err = run_here(capsys, monkeypatch, "multifidelity.py", "--output", str(tmp_path / "mf"),
                                 "--limit-train", "32", "--baseline-width", "0.25", "--tolerance", "0.05", "--epochs",
                                 "1", "--val-points", "3", "--data-dir", fashion_mnist, "--json", str(out))
    assert code == 0, err
    summary = json.loads(out.read_text())
    assert summary["candidates"] >= 2 and summary["hyperband_steps"] <= summary["full_grid_steps"]
    assert isinstance(summary["same_choice"], bool) and "Hyperband" in stdout
