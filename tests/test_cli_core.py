"""`effnet models` and `effnet info`: tables, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

from effnet.cli import main


def test_models_json_lists_every_preset_with_exact_params(capsys, anchors):
    assert main(["models", "efficientnet-", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for name, params in anchors["efficientnet_params"].items():
        assert rows[name]["params"] == params
    assert rows["efficientnet-b7"]["resolution"] == 600


def test_info_prints_table1_after_scaling(capsys):
    assert main(["info", "efficientnet-b0", "--width", "2"]) == 0
    out = capsys.readouterr().out
    assert "MBConv6, k5x5" in out and "2560" in out and "640" in out


def test_info_json_round_trips(capsys):
    from effnet.spec import NetSpec

    assert main(["info", "efficientnet-lite2", "--json"]) == 0
    spec = NetSpec.from_json(capsys.readouterr().out)
    assert spec.name == "efficientnet-lite2" and spec.resolution == 260


def test_unknown_model_is_one_line_exit_2(capsys):
    assert main(["info", "efficientnet-b42"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown model" in err


def test_impossible_scaling_is_one_line_exit_2(capsys):
    assert main(["info", "efficientnet-b0", "--width", "-1"]) == 2
    assert "width" in capsys.readouterr().err


def test_console_entry_point_runs_as_module():
    result = subprocess.run([sys.executable, "-m", "effnet", "info", "nope"], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith("effnet: error:") and "Traceback" not in result.stderr


def test_every_command_starts_in_a_fresh_interpreter():
    """The CLI imports only the chosen command's module, so each command must import cleanly on its own (an
    import cycle that the test process hides, having imported everything already, breaks it for users)."""
    from effnet.cli import COMMANDS

    processes = {name: subprocess.Popen([sys.executable, "-m", "effnet", name, "--help"], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True) for name in COMMANDS}
    failures = {}
    for name, process in processes.items():
        out, err = process.communicate(timeout=120)
        if process.returncode != 0 or f"usage: effnet {name}" not in out:
            failures[name] = err.strip().splitlines()[-1:] or out[:200]
    assert not failures, failures
