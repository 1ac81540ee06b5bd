"""`effnet models` and `effnet info`: tables, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

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

    def start(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "effnet", name, "--help"], capture_output=True, text=True,
                              timeout=600)

    # as many at once as there are cores: a process per command each importing torch, all at once, can take
    # minutes on a loaded 2-core machine
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = dict(zip(COMMANDS, pool.map(start, COMMANDS)))
    failures = {name: (done.stderr.strip().splitlines()[-1:] or done.stdout[:200]) for name, done in results.items()
                if done.returncode != 0 or f"usage: effnet {name}" not in done.stdout}
    assert not failures, failures


def test_every_option_of_every_command_has_help_text():
    from effnet.cli import make_parser

    parser = make_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    missing = []
    commands = list(subparsers.choices.items())
    while commands:
        name, command = commands.pop()
        for action in command._actions:
            if action.dest != "help" and not (action.help or "").strip():
                missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
            if isinstance(action, type(subparsers)):  # nested commands: effnet experiment scaling, ...
                commands += [(f"{name} {sub}", parser) for sub, parser in action.choices.items()]
    assert missing == []
    assert set(subparsers.choices) >= {"predict", "eval", "train", "export", "quantize", "cam", "bench"}


def test_version(capsys):
    from importlib.metadata import version

    try:
        main(["--version"])
    except SystemExit as stop:
        assert stop.code == 0
    assert capsys.readouterr().out.strip() == f"effnet {version('effnet')}"


def test_a_spec_file_works_wherever_a_model_name_does(tmp_path, capsys):
    import effnet

    assert main(["info", "efficientnet-b0", "--width", "0.5", "--json"]) == 0
    path = tmp_path / "half.json"
    path.write_text(capsys.readouterr().out)
    spec = effnet.get_spec(path)
    assert spec.stages[0].channels == 8 and effnet.get_spec(str(path)) == spec
    small = tmp_path / "small.json"  # a tiny spec for the commands that run the network
    small.write_text(effnet.scale("efficientnet-b0", width=0.25, depth=0.2).replace(resolution=32).to_json())
    for argv in (["info", str(path)], ["profile", str(path), "--json"], ["scale", str(path), "--phi", "1", "--json"],
                 ["bench", str(small), "--runs", "1", "--warmup", "0", "--json"],
                 ["export", str(small), "--format", "torchscript", "--output", str(tmp_path / "small.pt")]):
        assert main(argv) == 0, argv
    capsys.readouterr()
    assert effnet.profile(path).params == effnet.profile(spec).params
    assert effnet.create_model(path, num_classes=3).spec == spec
    assert effnet.load_model(str(path)).spec == spec
    assert effnet.fit_budget(path, "2x", "width").macs > effnet.profile(spec).macs
    assert effnet.scale(path, depth=2.0).stages[-1].repeats == 2


def test_docs_match_the_code_help_lists_every_command_and_models_mark_pretrained(capsys) -> None:
    import pytest

    from effnet.cli import COMMANDS

    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out
    assert all(f"    {name}" in listed for name in COMMANDS)  # every subcommand, with its one-line help
    assert main(["models", "lite", "--json"]) == 0
    rows = {row["name"]: row["pretrained"] for row in json.loads(capsys.readouterr().out)}
    assert rows["efficientnet-lite0"] and not rows["efficientnet-lite4"]
