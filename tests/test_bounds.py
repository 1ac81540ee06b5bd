"""Every count, size and file has a bound, checked before work starts: hostile options and small files that would
cost huge memory or time are refused in well under a second with one short line and exit code 2, and nothing is
written. One table per class of input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torchvision.transforms.v2  # noqa: F401  (imported by the image pipeline when it is built: not the refusal's work)
from PIL import Image

import effnet
from effnet.cli import MAX_MESSAGE, main, make_parser

TINY = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.1).replace(resolution=16, name="tiny")


def refused_fast(capsys, argv: list[str], expect: str) -> str:
    """Refused with one short line, exit 2, in under a second of work (the commands' modules, and torchvision, which
    the image pipeline imports when it is built, imported before: a test run alone must time the same work)."""
    make_parser()
    started = time.perf_counter()
    try:
        code = main(argv)
    except SystemExit as stop:  # argparse's own checks
        code = stop.code
    elapsed = time.perf_counter() - started
    _out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("effnet: error:"), (argv, code, err)
    assert expect in lines[0], (expect, lines[0])
    assert len(lines[0]) <= MAX_MESSAGE + 40 and "Traceback" not in err
    assert elapsed < 1.0, (argv, elapsed)
    return lines[0]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "tiny.json"
    path.write_text(TINY.to_json())
    return path


STUDY = ["experiment", "scaling", "{spec}", "--data", "fashion-mnist", "--output", "{out}", "--no-progress"]
COEFFICIENTS = ["search", "coefficients", "{spec}", "--data", "fashion-mnist", "--output", "{out}", "--no-progress"]
ARCHITECTURE = ["search", "architecture", "--reference", "{spec}", "--target-macs", "3M", "--data", "fashion-mnist",
                "--output", "{out}", "--no-progress"]
CONVERGENCE = ["experiment", "convergence", "{spec}", "--data", "fashion-mnist", "--output", "{out}", "--no-progress"]
TRAIN = ["train", "--model", "{spec}", "--data", "fashion-mnist", "--output", "{out}", "--no-progress"]

# ----- 1. counts: unbounded options, grids and plans too large, non-finite values --------------------------------
COUNTS = [
    ("a million seeds", [*STUDY, "--seeds", "1000000"], "seeds must be an integer in [1, 100]"),
    ("workers beyond the machine", [*STUDY, "--workers", "100000"], "workers must be an integer in [1, 64]"),
    ("threads beyond the machine", [*STUDY, "--threads", "100000"], "threads must be an integer in [1, 256]"),
    ("forty budgets", [*STUDY, "--budgets", ",".join(f"{b}x" for b in range(2, 42))], "at most 32 budgets"),
    ("an infinite budget", [*STUDY, "--budgets", "inf"], "is not in (1x, 10000x]"),
    ("no failures allowed", [*STUDY, "--max-failures", "0"], "expected a positive integer"),
    ("a grid step of 1e-4", [*COEFFICIENTS, "--step", "0.0001"], "use a coarser step"),
    ("a family of a thousand", [*COEFFICIENTS, "--family", "1000"], "family must be an integer in [0, 16]"),
    ("a billion trials", [*ARCHITECTURE, "--trials", "1000000000"], "trials must be an integer in [1, 10,000]"),
    ("a NaN reward weight", [*ARCHITECTURE, "--weight", "nan"], "finite target and weight"),
    ("an infinite latency target", ["search", "architecture", "--reference", "{spec}", "--cost", "latency",
                                    "--target-latency", "inf", "--data", "fashion-mnist", "--output", "{out}"],
     "finite target and weight"),
    ("a schedule factor of 100", [*CONVERGENCE, "--factor", "100"], "factor must be an integer in [2, 16]"),
    ("a thousand loader workers", [*TRAIN, "--workers", "1000"], "workers (data-loader processes)"),
    ("a million accumulation steps", [*TRAIN, "--accum-steps", "1000000"], "accum-steps must be an integer"),
]


@pytest.mark.parametrize("case, argv, expect", COUNTS, ids=[c[0] for c in COUNTS])
def test_hostile_counts_are_refused_at_once_and_nothing_is_written(tmp_path: Path, spec_file: Path, capsys, case,
                                                                    argv, expect) -> None:
    out = tmp_path / "out"
    refused_fast(capsys, [a.format(spec=spec_file, out=out) for a in argv], expect)
    assert not out.exists(), case


# ----- 2. small files that would cost huge memory or time --------------------------------------------------------
def _hostile_spec(tmp_path: Path) -> list[str]:
    stages = ",".join('"mbconv_r1000_k3_s1_e1_c8"' for _ in range(200))
    path = tmp_path / "deep.json"
    path.write_text('{"name": "deep", "stem": "conv_r1_k3_s1_e1_c8", "stages": [' + stages + '], "head": null}')
    return ["info", str(path)]


def _alias_bomb(tmp_path: Path) -> list[str]:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
              for i in range(9)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    return ["train", "--model", "efficientnet-b0-small", "--data", "fashion-mnist", "--recipe", str(path), "--output",
            str(tmp_path / "out"), "--no-progress"]


def _extreme_image(tmp_path: Path) -> list[str]:
    Image.new("L", (20000, 1), 128).save(tmp_path / "strip.png")
    assert (tmp_path / "strip.png").stat().st_size < 2000  # a small file
    model = effnet.create_model(TINY.replace(resolution=224), num_classes=3)  # resized to 256 px first
    effnet.save_pretrained(model, tmp_path / "model")
    return ["predict", str(tmp_path / "strip.png"), "--model", str(tmp_path / "model")]


def _huge_message(tmp_path: Path) -> list[str]:
    return ["experiment", "scaling", "efficientnet-b0-small", "--data", "fashion-mnist", "--budgets", "x" * 1_000_000,
            "--output", str(tmp_path / "out"), "--no-progress"]


def _bench_beyond_memory(tmp_path: Path) -> list[str]:
    wide = TINY.replace(name="wide", resolution=8192)
    path = tmp_path / "wide.json"
    path.write_text(wide.to_json())
    return ["bench", str(path)]


FILES = [
    ("a spec of 200 stages x 1000 repeats", _hostile_spec, "blocks is beyond the supported maximum 4,096"),
    ("a YAML recipe of nested aliases", _alias_bomb, "uses YAML aliases"),
    ("a 20000 x 1 px image", _extreme_image, "too extreme in shape"),
    ("a megabyte option value in the message", _huge_message, "cannot read budget"),
    ("bench at a size beyond activation memory", _bench_beyond_memory, "GiB of activations"),
]


@pytest.mark.parametrize("case, make, expect", FILES, ids=[c[0] for c in FILES])
def test_small_hostile_inputs_are_refused_at_once(tmp_path: Path, capsys, case, make, expect) -> None:
    argv = make(tmp_path)
    refused_fast(capsys, argv, expect)
