"""`effnet dashboard DIR` in a real browser: the study's own journal served by optuna-dashboard on 127.0.0.1, the
page loaded by Debian's Chromium (headless), and the study's trials on it. `make test` installs Chromium when run as
root (CI is); elsewhere the test is skipped, naming what to install."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from effnet.cli import main
from effnet.engine import Engine, Plan

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Debian's chromium is not installed (apt-get install chromium); the dashboard test needs a browser"
        if os.geteuid() == 0:
            pytest.fail(message, pytrace=False)  # make test installs it as root: its absence is a broken setup
        pytest.skip(message)
    pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed: pip install 'effnet[dashboard]'")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_dashboard_shows_a_finished_studys_trials_in_a_headless_browser(tmp_path: Path) -> None:
    browser = chromium()
    folder = tmp_path / "study"
    engine = Engine(Plan("toy-study", {"n": 3}, tuple({"x": x} for x in range(3))), folder)
    engine.run("test_engine:toy", progress=False)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "effnet", "dashboard", str(folder), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        announced = server.stderr.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+/dashboard/studies/\d+)", announced).group(1)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        page = subprocess.run([browser, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                               "--virtual-time-budget=15000", "--dump-dom", f"{url}/trials"],
                              capture_output=True, text=True, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.stdout))
    assert engine.plan.name in text  # the study, by its name
    assert "3 Trials" in text and all(f"Trial {n}" in text for n in range(3)), text[:500]


def test_the_dashboard_refuses_what_is_not_a_study_in_one_line(tmp_path: Path, capsys) -> None:
    pytest.importorskip("optuna_dashboard")
    assert main(["dashboard", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an effnet study folder" in err
