"""Outputs never destroy anything: every command that writes refuses (one line, exit 2) an output that is one of
its inputs or not a regular file, replaces an existing one only with --overwrite, and leaves no temporary files --
not even after kill -9 or a full disk, after which a run folder is still consistent and resumable."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import runpy
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import effnet
from effnet.cli import main
from effnet.errors import OutputError
from effnet.hub.checkpoints import load_checkpoint
from effnet.outputs import atomic_path
from test_data import make_fashion

ROOT = Path(__file__).resolve().parents[1]
TINY = {"width": 0.25, "depth": 0.1, "image_size": 32}
TINY_ARGS = ["--model", "efficientnet", "--width", "0.25", "--depth", "0.1", "--resolution", "16"]


def reject(constant: str) -> None:
    raise ValueError(f"not JSON: {constant}")


def run_cli(capsys, argv: list[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys, argv: list[str], expect: str) -> str:
    code, out, err = run_cli(capsys, argv)
    lines = err.strip().splitlines()
    assert code == 2 and out == "", (code, out, err)
    assert len(lines) == 1 and lines[0].startswith("effnet: error: ") and "Traceback" not in err, err
    assert expect in lines[0], lines[0]
    return lines[0]


def snapshot(folder: Path) -> dict[str, object]:
    """Every entry under `folder`: file contents (hashed), link targets, kinds."""
    state: dict[str, object] = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        if path.is_symlink():
            state[key] = ("link", os.readlink(path))
        elif path.is_file():
            state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[key] = "fifo" if path.is_fifo() else "dir"
    return state


def temps(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if ".part" in p.name or p.name.startswith("tmp")]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def tree(tmp_path) -> dict[str, Path]:
    """Inputs of every writing command in one folder: an image, a spec file, weights, a save_pretrained folder and
    an ONNX file (quantize refuses a bad output before it reads its input)."""
    image = tmp_path / "image.png"
    Image.fromarray((np.random.default_rng(0).random((40, 40, 3)) * 255).astype(np.uint8)).save(image)
    spec = effnet.scale("efficientnet", **TINY)
    (tmp_path / "tiny.json").write_text(spec.to_json())
    torch.manual_seed(0)
    model = effnet.build(spec, num_classes=1000)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "weights.safetensors"))
    effnet.save_pretrained(model, tmp_path / "saved")
    (tmp_path / "model.onnx").write_bytes(b"an fp32 model")
    return {"root": tmp_path, "image": image, "spec": tmp_path / "tiny.json", "saved": tmp_path / "saved",
            "weights": tmp_path / "weights.safetensors", "onnx": tmp_path / "model.onnx"}


def fill(argv: list[str], tree: dict[str, Path], output: Path | str) -> list[str]:
    names = {**{k: str(v) for k, v in tree.items()}, "output": str(output)}
    return [arg.format(**names) for arg in argv]


COMMANDS = {
    "export": ["export", "{saved}", "--format", "torchscript", "--output", "{output}"],
    "quantize": ["quantize", "{onnx}", "--output", "{output}"],
    "cam": ["cam", "{image}", "--model", "{saved}", "--output", "{output}"],
}


# ----- an output that is one of the command's inputs --------------------------------------------------------------

INPUT_ROWS = {
    "export into its model folder": (["export", "{saved}", "--output", "{saved}/model.safetensors"],
                                     "inside the input folder"),
    "export over its config": (["export", "--weights", "{saved}", "--output", "{saved}/config.json"],
                               "inside the input folder"),
    "export over its spec file": (["export", "--model", "{spec}", "--output", "{spec}"], "is also an input"),
    "export over its weights": (["export", "--model", "{spec}", "--weights", "{weights}", "--output", "{weights}"],
                                "is also an input"),
    "quantize over its input": (["quantize", "{onnx}", "--output", "{onnx}"], "is also an input"),
    "quantize over its model": (["quantize", "{onnx}", "--model", "{spec}", "--output", "{spec}"], "is also an input"),
    "cam over its image": (["cam", "{image}", "--model", "{saved}", "--output", "{image}"], "is also an input"),
    "cam over its spec": (["cam", "{image}", "--model", "{spec}", "--output", "{spec}"], "is also an input"),
    "cam into its model folder": (["cam", "{image}", "--model", "{saved}", "--output", "{saved}/config.json"],
                                  "inside the input folder"),
}


@pytest.mark.parametrize("case", list(INPUT_ROWS))
def test_an_output_that_is_an_input_is_refused(tree, capsys, case) -> None:
    argv, expect = INPUT_ROWS[case]
    before = snapshot(tree["root"])
    refused(capsys, [*fill(argv, tree, ""), "--overwrite"], expect)
    assert snapshot(tree["root"]) == before  # every input byte-identical, nothing added


def test_save_pretrained_refuses_the_folder_it_loaded_from(tree) -> None:
    before = snapshot(tree["root"])
    model = effnet.from_pretrained(tree["saved"])
    with pytest.raises(OutputError, match="is also an input"):
        effnet.save_pretrained(model, tree["saved"], overwrite=True, inputs=[tree["saved"]])
    assert snapshot(tree["root"]) == before


# ----- an output that is not a regular file (or, for save_pretrained, a folder) -------------------------------------

def make_kind(folder: Path, kind: str, name: str) -> Path:
    path = folder / name
    victim = folder / "victim.txt"
    victim.write_text("someone else's file")
    if kind == "directory":
        path.mkdir()
        (path / "keep.txt").write_text("keep me")
    elif kind == "file":
        path.write_text("a regular file")
    elif kind == "symlink":
        path.symlink_to(victim)
    elif kind == "symlink to a folder":
        (folder / "elsewhere").mkdir()
        path.symlink_to(folder / "elsewhere")
    elif kind == "dangling symlink":
        path.symlink_to(folder / "not-yet")
    elif kind == "fifo":
        os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind, expect", [("directory", "exists and is not a regular file"),
                                          ("symlink", "is a symbolic link"), ("dangling symlink", "is a symbolic link"),
                                          ("fifo", "exists and is not a regular file")])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_output_that_is_not_a_regular_file_is_refused(tree, tmp_path_factory, capsys, command, kind,
                                                         expect) -> None:
    folder = tmp_path_factory.mktemp("out")
    target = make_kind(folder, kind, "out.bin")
    before, inputs = snapshot(folder), snapshot(tree["root"])
    started = time.perf_counter()
    refused(capsys, [*fill(COMMANDS[command], tree, target), "--overwrite"], expect)
    assert time.perf_counter() - started < 2.0  # refused before any work
    assert snapshot(folder) == before and snapshot(tree["root"]) == inputs
    assert not (folder / "not-yet").exists()


@pytest.mark.parametrize("kind, expect", [("file", "exists and is not a folder"),
                                          ("symlink to a folder", "is a symbolic link"),
                                          ("dangling symlink", "is a symbolic link"),
                                          ("fifo", "exists and is not a folder")])
def test_save_pretrained_refuses_anything_but_a_folder(tmp_path, kind, expect) -> None:
    target = make_kind(tmp_path, kind, "model")
    before = snapshot(tmp_path)
    with pytest.raises(OutputError, match=expect):
        effnet.save_pretrained(effnet.build(effnet.scale("efficientnet", **TINY), 10), target, overwrite=True)
    assert snapshot(tmp_path) == before


def test_an_output_folder_that_does_not_exist_is_refused_before_any_work(tree, capsys) -> None:
    for command in COMMANDS:
        refused(capsys, fill(COMMANDS[command], tree, tree["root"] / "missing" / "out.bin"), "does not exist")


# ----- an existing output: refused without --overwrite, replaced with it ----------------------------------------

@pytest.fixture
def real_onnx(tree) -> Path:
    """A real fp32 ONNX file (the legacy exporter: fast) for quantize runs."""
    model = effnet.build(effnet.scale("efficientnet", **TINY), num_classes=10).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 32, 32),), str(tree["onnx"]), dynamo=False,
                          input_names=["image"], output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    return tree["onnx"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_existing_output_is_replaced_only_with_overwrite(tree, request, capsys, command) -> None:
    target = tree["root"] / "out" / {"export": "m.pt", "quantize": "q.onnx", "cam": "c.png"}[command]
    target.parent.mkdir()
    target.write_text("precious")
    argv = fill(COMMANDS[command], tree, target)
    if command == "quantize":
        request.getfixturevalue("real_onnx")
        argv += ["--resolution", "32", "--num-calibration", "2"]
    refused(capsys, argv, "already exists")
    assert target.read_text() == "precious"
    code, out, err = run_cli(capsys, [*argv, "--overwrite"])
    assert code == 0, err
    assert target.read_bytes() != b"precious" and f"wrote {target}" in out
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no helper or temporary files left


def test_save_pretrained_replaces_a_model_folder_only_with_overwrite(tree) -> None:
    model = effnet.build(effnet.scale("efficientnet", **TINY), 10)
    before = snapshot(tree["saved"])
    with pytest.raises(OutputError, match="already has files"):
        effnet.save_pretrained(model, tree["saved"])
    assert snapshot(tree["saved"]) == before
    effnet.save_pretrained(model, tree["saved"], overwrite=True)
    assert snapshot(tree["saved"]) != before and sorted(p.name for p in tree["saved"].iterdir()) == [
        "config.json", "model.safetensors"]
    assert effnet.from_pretrained(tree["saved"]).num_classes == 10


# ----- temporary files: unique, cleaned up, also after a crash (a dead process's) on the next run -------------------

def plant_temps(folder: Path, name: str, ending: str) -> tuple[Path, Path]:
    stale = folder / f".{name}.{dead_pid()}.k3x9q1.part{ending}"
    live = folder / f".{name}.{os.getpid()}.a8b7c6.part{ending}"  # this very process: alive
    stale.write_text("left by kill -9")
    live.write_text("still being written")
    return stale, live


@pytest.mark.parametrize("command", list(COMMANDS))
def test_stale_temporary_files_are_removed_by_the_next_write(tree, request, capsys, command) -> None:
    folder = tree["root"] / "out"
    folder.mkdir()
    name = {"export": "m.pt", "quantize": "q.onnx", "cam": "c.png"}[command]
    stale, live = plant_temps(folder, name, Path(name).suffix)
    argv = fill(COMMANDS[command], tree, folder / name)
    if command == "quantize":
        request.getfixturevalue("real_onnx")
        argv += ["--resolution", "32", "--num-calibration", "2"]
    code, _, err = run_cli(capsys, argv)
    assert code == 0, err
    assert not stale.exists() and live.read_text() == "still being written"
    assert sorted(p.name for p in folder.iterdir()) == sorted([name, live.name])


def test_quantize_helper_files_never_replace_anything(tree, real_onnx, capsys) -> None:
    """Its pre-processed model is a temporary file, not `OUTPUT.pre.onnx` (which may be the input, or yours)."""
    source = real_onnx.rename(tree["root"] / "m.pre.onnx")
    mine = tree["root"] / "q.pre.onnx"
    mine.write_text("my own file")
    before = source.read_bytes()
    for fp32, output in ((source, tree["root"] / "m.onnx"), (source, tree["root"] / "q.onnx")):
        code, _, err = run_cli(capsys, ["quantize", str(fp32), "--output", str(output), "--resolution", "32",
                                        "--num-calibration", "2"])
        assert code == 0, err
    assert source.read_bytes() == before and mine.read_text() == "my own file" and temps(tree["root"]) == []


def test_save_pretrained_removes_stale_temporary_files(tmp_path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    planted = [*plant_temps(folder, "model.safetensors", ".safetensors"), *plant_temps(folder, "config.json", ".json")]
    effnet.save_pretrained(effnet.build(effnet.scale("efficientnet", **TINY), 10), folder, overwrite=True)
    assert [p.exists() for p in planted] == [False, True, False, True]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path) -> None:
    target = tmp_path / "out.onnx"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="exporter crashed"), atomic_path(target) as temp:
        temp.write_text("half")
        raise RuntimeError("exporter crashed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.onnx"]


# ----- run folders -----------------------------------------------------------------------------------------------

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models train fastest on one thread (and do not fight other processes for the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_fashion(tmp_path_factory.mktemp("data"), n_train=16, n_test=8)


@pytest.fixture(scope="module")
def finished_run(data, tmp_path_factory) -> Path:
    """A finished one-epoch run (copied by the tests that change it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    assert main(train_args(data, run)) == 0
    return run


@pytest.fixture
def run(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


def train_args(data: Path, run: Path, *extra: str) -> list[str]:
    return ["train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir", str(data), "--output", str(run),
            "--recipe", "small-data", "--epochs", "1", "--batch-size", "8", "--limit-val", "8", "--no-progress",
            *extra]


def trained(capsys, argv: list[str]) -> None:
    code, _, err = run_cli(capsys, argv)
    assert code == 0, err


def rows(run: Path) -> list[dict]:
    return [json.loads(line, parse_constant=reject) for line in (run / "metrics.jsonl").read_text().splitlines()]


def test_train_refuses_a_folder_that_holds_a_run_and_starts_over_with_overwrite(data, run, capsys) -> None:
    before = snapshot(run)
    refused(capsys, train_args(data, run), "already holds a run (last.pt); continue it with --resume or start over "
            "with --overwrite")  # the flags a command-line user types (Python says resume=True / overwrite=True)
    assert snapshot(run) == before
    trained(capsys, train_args(data, run, "--overwrite", "--seed", "1"))
    after = snapshot(run)
    assert after["last.pt"] != before["last.pt"] and len(rows(run)) == 1 and rows(run)[0]["epoch"] == 1
    assert load_checkpoint(run / "last.pt")["epoch"] == 1 and temps(run) == []


@pytest.mark.parametrize("weights", ["last.pt", "best.pt", "pretrained"])
def test_a_fresh_run_never_replaces_the_weights_it_starts_from(data, run, capsys, weights) -> None:
    before = snapshot(run)
    refused(capsys, ["finetune", "--weights", str(run / weights), *train_args(data, run, "--overwrite")[1:]],
            f"is an input of this run but also {weights} of its output folder")
    assert snapshot(run) == before


def test_the_data_folder_is_not_a_run_folder(data, capsys) -> None:
    before = snapshot(data)
    refused(capsys, train_args(data, data), "is inside the data folder")
    assert snapshot(data) == before


def test_a_run_folder_removes_every_stale_temporary_file(data, run, capsys) -> None:
    planted = [*plant_temps(run, "best.pt", ".pt"), *plant_temps(run, "last.pt", ".pt"),
               *plant_temps(run, "metrics.jsonl", ".jsonl")]
    # nothing left to train, so best.pt is not written again: the run folder cleans up on start all the same
    trained(capsys, train_args(data, run, "--resume"))
    assert [p.exists() for p in planted] == [False, True] * 3


# ----- kill -9 at any moment ------------------------------------------------------------------------------------

EPOCHS = 12


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def _check_consistent(run: Path) -> None:
    """What must hold at every moment: last.pt loads, metrics.jsonl never has a row last.pt does not know, best.pt
    loads and is the best of the epochs it has seen."""
    last = load_checkpoint(run / "last.pt")
    history = last["history"]
    if (run / "metrics.jsonl").exists():
        written = rows(run)
        assert written == history[:len(written)] and len(written) >= len(history) - 1
    best = load_checkpoint(run / "best.pt")
    assert best["best_top1"] == max(row["val_top1"] for row in best["history"])
    assert best["epoch"] >= last["epoch"] or best["best_top1"] == max(row["val_top1"] for row in history)


def test_kill_9_at_any_moment_then_resume(tmp_path) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=16)
    run = tmp_path / "run"
    command = [sys.executable, "-m", "effnet", "train", *TINY_ARGS, "--data", "fashion-mnist", "--data-dir",
               str(data), "--output", str(run), "--recipe", "small-data", "--epochs", str(EPOCHS), "--batch-size",
               "8", "--limit-val", "16", "--no-progress", "--lr", "1.0", "--set", "warmup_epochs=0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    rng = random.Random(0)
    # (what to wait for, extra random delay): right after a checkpoint, while a checkpoint is being written, during
    # the first write of a resumed run (it rewrites metrics.jsonl from its checkpoint), in the middle of an epoch
    moments = [("checkpoint", 0.0), ("writing a checkpoint", 0.0), ("writing", 0.0),
               ("checkpoint", rng.uniform(0.02, 0.12))]
    kills = []
    for index, (moment, delay) in enumerate(moments):
        seen = _identity(run / "last.pt")
        leftover = {name for name in os.listdir(run) if ".part" in name} if run.is_dir() else set()  # stale ones
        log = (tmp_path / f"stderr{index}.txt").open("w")
        process = subprocess.Popen([*command, *(["--resume"] if index else [])], env=env, stdout=subprocess.DEVNULL,
                                   stderr=log)
        deadline = time.monotonic() + 120
        checkpoints = 0
        while process.poll() is None and time.monotonic() < deadline:
            now = _identity(run / "last.pt")
            if now != seen and now is not None:
                seen, checkpoints = now, checkpoints + 1
            writing = [name for name in (os.listdir(run) if run.is_dir() else ()) if ".part" in name
                       and name not in leftover]
            checkpoint_part = any(name.startswith((".last.pt.", ".best.pt.")) for name in writing)
            if ((moment == "checkpoint" and checkpoints) or (moment == "writing" and (writing or checkpoints))
                    or (moment == "writing a checkpoint" and (checkpoint_part or checkpoints > 3))):
                time.sleep(delay)
                break
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL, (tmp_path / f"stderr{index}.txt").read_text()
        log.close()
        kills.append(load_checkpoint(run / "last.pt")["epoch"])
        _check_consistent(run)
    assert len(kills) == len(moments) and kills[-1] < EPOCHS, kills  # every kill before the run finished
    done = subprocess.run([*command, "--resume", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout, parse_constant=reject)
    written = rows(run)
    assert [row["epoch"] for row in written] == list(range(1, EPOCHS + 1))  # one row per epoch, none lost or doubled
    last, best = load_checkpoint(run / "last.pt"), load_checkpoint(run / "best.pt")
    assert last["epoch"] == EPOCHS and last["history"] == written
    assert best["best_top1"] == max(row["val_top1"] for row in written) == summary["best_top1"]
    assert temps(run) == []
    assert effnet.load_model(run / "best.pt").num_classes == 10  # best.pt is a model, too


# ----- a full disk ---------------------------------------------------------------------------------------------

def test_a_full_disk_mid_run_is_one_line_and_keeps_the_last_checkpoint(data, tmp_path, capsys, monkeypatch) -> None:
    run = tmp_path / "run"
    real_save = torch.save
    seen: dict[str, object] = {"last": 0}

    def save(obj, path, *args, **kwargs):
        if Path(path).name.startswith(".last.pt."):
            seen["last"] += 1
            if seen["last"] == 2:  # the second epoch's checkpoint: the disk fills up halfway through it
                seen["before"] = hashlib.sha256((run / "last.pt").read_bytes()).hexdigest()
                Path(path).write_bytes(b"half a checkpoint")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save)
    code, out, err = run_cli(capsys, train_args(data, run, "--epochs", "3", "--json"))
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("effnet: error: no space left on the device while writing") and "last.pt" in lines[0]
    assert hashlib.sha256((run / "last.pt").read_bytes()).hexdigest() == seen["before"]  # unchanged
    assert load_checkpoint(run / "last.pt")["epoch"] == 1 and [r["epoch"] for r in rows(run)] == [1]
    assert temps(run) == []
    # once there is room again, the run continues where it was
    monkeypatch.setattr(torch, "save", real_save)
    trained(capsys, train_args(data, run, "--epochs", "3", "--resume"))
    assert [r["epoch"] for r in rows(run)] == [1, 2, 3] and temps(run) == []


def _can_mount_tmpfs(folder: Path) -> str | None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return "needs root and unshare(1) to mount a private tmpfs"
    folder.mkdir()
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {folder}"],
                           capture_output=True, text=True)
    return None if probe.returncode == 0 else f"cannot mount a private tmpfs here: {probe.stderr.strip()}"


def test_a_really_full_disk(data, finished_run, tmp_path) -> None:
    """The honest version: a 2.5-checkpoint tmpfs in a private mount namespace, so the second epoch's checkpoint
    fills it (torch.save then fails with its own RuntimeError, not an OSError)."""
    mount = tmp_path / "disk"
    reason = _can_mount_tmpfs(mount)
    if reason:
        pytest.skip(reason)
    size_k = int(2.5 * (finished_run / "last.pt").stat().st_size / 1024)  # a checkpoint of this very run
    outside = tmp_path / "copy"
    train = " ".join([sys.executable, "-m", "effnet", *train_args(data, mount / "run", "--epochs", "3")])
    script = (f"mount -t tmpfs -o size={size_k}k tmpfs {mount} && {{ {train} 2> {tmp_path}/stderr; "
              f"echo $? > {tmp_path}/rc; cp -a {mount}/run {outside}; }}")
    subprocess.run(["unshare", "--mount", "sh", "-c", script], env={**os.environ, "OMP_NUM_THREADS": "1"},
                   timeout=300, check=True)
    err = (tmp_path / "stderr").read_text().strip().splitlines()
    assert (tmp_path / "rc").read_text().strip() == "2", err
    assert len(err) == 1 and err[0].startswith("effnet: error: no space left on the device while writing"), err
    assert load_checkpoint(outside / "last.pt")["epoch"] == 1 and [r["epoch"] for r in rows(outside)] == [1]
    assert temps(outside) == []


def test_writer_errors_on_a_full_disk_are_reported_as_such(tmp_path, monkeypatch) -> None:
    """torch.save and safetensors report a full disk as RuntimeError / SafetensorError: atomic_path says ENOSPC."""
    from safetensors import SafetensorError

    target = tmp_path / "model.safetensors"
    with pytest.raises(OSError) as info, atomic_path(target):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    full = os.statvfs(tmp_path)
    monkeypatch.setattr(os, "statvfs", lambda _: os.statvfs_result((*full[:3], 0, 0, *full[5:])))
    with pytest.raises(OSError) as info, atomic_path(tmp_path / "last.pt"):
        raise RuntimeError("[enforce fail at inline_container.cc:671] . unexpected pos 576 vs 534")
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="a real bug"), atomic_path(tmp_path / "last.pt"):
        raise RuntimeError("a real bug")  # not a full disk: the writer's own error
    assert list(tmp_path.iterdir()) == []


# ----- benchmarks follow the same rules ----------------------------------------------------------------------------

def run_benchmark(capsys, monkeypatch, name: str, *argv: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", [name, *argv])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(ROOT / "benchmarks" / name), run_name="__main__")
    return stop.value.code, capsys.readouterr().err


def test_latency_benchmark_json_output(tmp_path, capsys, monkeypatch) -> None:
    existing = tmp_path / "rows.json"
    existing.write_text("earlier results")
    code, err = run_benchmark(capsys, monkeypatch, "latency.py", "--json", str(existing))
    assert code == 2 and err.strip().splitlines() == [f"latency.py: error: output {existing} already exists; pass "
                                                      "overwrite=True to replace it"]
    assert existing.read_text() == "earlier results"
    (tmp_path / "link.json").symlink_to(existing)
    code, err = run_benchmark(capsys, monkeypatch, "latency.py", "--json", str(tmp_path / "link.json"), "--overwrite")
    assert code == 2 and "symbolic link" in err and existing.read_text() == "earlier results"


def test_fashion_mnist_benchmark_never_deletes_a_folder(data, tmp_path, capsys, monkeypatch) -> None:
    threads = torch.get_num_threads()  # the benchmark sets its own
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "last.pt").write_text("a run of mine")
    (folder / "notes.txt").write_text("not a run file")
    code, err = run_benchmark(capsys, monkeypatch, "fashion_mnist.py", "--output", str(folder), "--data-dir",
                              str(data))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "already holds a run" in err
    assert (folder / "last.pt").read_text() == "a run of mine" and (folder / "notes.txt").exists()
    code, err = run_benchmark(capsys, monkeypatch, "fashion_mnist.py", "--output", str(folder / "notes.txt"))
    assert code == 2 and "is a file, not a run folder" in err
    assert torch.get_num_threads() == threads


def test_fashion_mnist_benchmark_writes_no_result_for_an_interrupted_run(data, tmp_path, capsys,
                                                                         monkeypatch) -> None:
    # Ctrl-C checkpoints the run and the trainer returns "interrupted": a result printed then would be a partial
    # run's, and the full-size runner would record it as the run's result
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    monkeypatch.setattr(effnet.train.Trainer, "fit",
                        lambda self: {"status": "interrupted", "signal": "SIGINT", "global_step": 7})
    monkeypatch.setattr(sys, "argv", ["fashion_mnist.py", "--output", str(tmp_path / "run"), "--data-dir", str(data)])
    with pytest.raises(SystemExit) as stop:
        runpy.run_path(str(ROOT / "benchmarks" / "fashion_mnist.py"), run_name="__main__")
    out, err = capsys.readouterr()
    assert stop.value.code == 130 and out == ""
    assert err.strip() == "interrupted by SIGINT at step 7; continue with --resume"


def test_finetune_vs_scratch_benchmark_refuses_a_kept_run_up_front(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "metrics.jsonl").write_text("{}\n")
    code, err = run_benchmark(capsys, monkeypatch, "finetune_vs_scratch.py", "--keep", str(tmp_path))
    assert code == 2 and err.strip().splitlines() == [
        f"finetune_vs_scratch.py: error: {tmp_path / 'run1'} already holds a run; choose another --keep folder"]
