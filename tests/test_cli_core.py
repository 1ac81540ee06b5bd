"""`effnet models` and `effnet info`: tables, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

from effnet.cli import COMMANDS, main, make_parser
from effnet.commands import SUMMARIES


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
    from effnet.architecture.spec import NetSpec

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


# Run in one fresh interpreter: torch (and the other third-party packages) are imported once, and before each
# command every effnet module is dropped from sys.modules, so each command imports effnet from nothing, exactly as
# `effnet NAME` does in a new process, without paying torch's import once per command.
_EACH_COMMAND_ON_ITS_OWN = """
import contextlib, io, json, sys
import torch  # noqa: F401  (shared by every round; effnet's own modules are not)
from effnet.cli import COMMANDS
results = {}
for name in COMMANDS:
    for module in [m for m in sys.modules if m == "effnet" or m.startswith("effnet.")]:
        del sys.modules[module]
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            from effnet.cli import main
            code = main([name, "--help"])
        except SystemExit as stop:
            code = stop.code
        except BaseException as error:  # an import error is what this looks for: report it, do not die
            code, err = 1, io.StringIO(f"{type(error).__name__}: {error}")
    results[name] = {"code": code, "out": out.getvalue(), "err": err.getvalue()[-300:]}
print(json.dumps(results))
"""


def test_every_command_starts_in_a_fresh_interpreter():
    """The CLI imports only the chosen command's module, so each command must import cleanly on its own (an
    import cycle that the test process hides, having imported everything already, breaks it for users)."""
    from effnet.cli import COMMANDS

    done = subprocess.run([sys.executable, "-c", _EACH_COMMAND_ON_ITS_OWN], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(results) == set(COMMANDS)
    failures = {name: result["err"] or result["out"][:200] for name, result in results.items()
                if result["code"] not in (0, None) or f"usage: effnet {name}" not in result["out"]}
    assert not failures, failures
    # and a real new process per command still starts: the cheapest one, end to end
    alone = subprocess.run([sys.executable, "-m", "effnet", "models", "--help"], capture_output=True, text=True,
                           timeout=600)
    assert alone.returncode == 0 and "usage: effnet models" in alone.stdout


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



_HEAVY = ("torchvision", "scipy", "matplotlib", "optuna", "sqlalchemy")
_STUDY_COMMANDS = {"demo", "experiment", "search", "dashboard", "report"}


def test_a_command_that_runs_no_study_starts_without_the_heavy_imports():
    """Importing torchvision (it loads torch._dynamo), scipy and matplotlib took 5 of `effnet info`'s 9 seconds here
    before they were left to the code that needs them: a command that runs no study must not import them to start."""
    from effnet.cli import COMMANDS

    probe = ("import sys\nfrom effnet.cli import make_parser\n"
             f"for name in {sorted(set(COMMANDS) - _STUDY_COMMANDS)!r}:\n"
             "    make_parser(name)\n"
             f"    print(name, *(heavy for heavy in {_HEAVY!r} if heavy in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    heavy = [line for line in done.stdout.splitlines() if len(line.split()) > 1]
    assert heavy == [], f"the first command that imported them: {heavy[:1]}"


def test_the_command_listing_needs_no_command_module():
    """`effnet --help` (and a mistyped command) imported all seventeen command modules, the study engine among them,
    to print one line for each; the lines come from `SUMMARIES`, and each command's own parser uses the same line."""
    probe = ("import contextlib, io, sys\nfrom effnet.cli import main\nout = io.StringIO()\n"
             "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n    main(['--help'])\n"
             "print(out.getvalue())\n"
             "print('loaded:', *sorted(name for name in sys.modules if name.startswith('effnet.commands.')))\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-500:]
    assert done.stdout.splitlines()[-1] == "loaded:"
    listing = " ".join(done.stdout.split())
    assert all(f"{name} {' '.join(SUMMARIES[name].split())}" in listing for name in COMMANDS), listing
    for name in COMMANDS:
        parser = make_parser(name)
        subparsers = next(action for action in parser._actions if action.dest == "command")
        full = {choice.dest: choice.help for choice in subparsers._choices_actions}
        assert full[name] == SUMMARIES[name]
