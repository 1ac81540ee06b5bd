"""Progress and threads: `train` without a terminal prints a line per epoch with images/s and an ETA that honours
--max-steps; train, eval, predict and bench take --threads, and training picks one thread for small images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch
from PIL import Image

from effnet.cli import main
from effnet.train.config import default_threads
from test_data import make_fashion

TRAIN = ["-m", "effnet", "train", "--model", "efficientnet-b0-small", "--width", "0.25", "--depth", "0.1",
         "--resolution", "16", "--data", "fashion-mnist", "--batch-size", "8", "--recipe", "proxy"]


def test_train_without_a_terminal_prints_a_line_per_epoch_with_an_eta_to_max_steps(tmp_path: Path) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=16)
    result = subprocess.run([sys.executable, *TRAIN, "--data-dir", str(data), "--epochs", "10", "--max-steps", "6",
                             "--output", str(tmp_path / "run"), "--json"], capture_output=True, text=True,
                            timeout=300)  # stderr is a pipe here, as in a log or under nohup
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("effnet: epoch")]
    assert [line.split(",")[0] for line in lines] == ["effnet: epoch 1/10", "effnet: epoch 2/10"]
    assert "step 4/6" in lines[0] and "step 6/6" in lines[1]  # the run ends at --max-steps, and its ETA with it
    assert "img/s" in lines[0] and lines[0].rsplit("ETA ", 1)[1] != "" and lines[1].endswith("ETA 0s")
    summary = json.loads(result.stdout)
    assert summary["threads"] == 1  # 16 px on a CPU: one thread by default


def test_threads_are_taken_and_the_default_follows_the_input_size(tmp_path: Path, capsys, monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert default_threads(cpu, 16) == 1 and default_threads(cpu, 224) == torch.get_num_threads()
    data = make_fashion(tmp_path / "data", n_train=16, n_test=16)
    before = torch.get_num_threads()
    try:  # in this process (each command sets the threads it is given; the caller's count is restored below)
        assert main([*TRAIN[2:], "--data-dir", str(data), "--epochs", "1", "--threads", "2", "--output",
                     str(tmp_path / "run"), "--json", "--no-progress"]) == 0
        assert json.loads(capsys.readouterr().out)["threads"] == 2
        Image.new("L", (28, 28), 200).save(tmp_path / "shirt.png")
        spec = tmp_path / "tiny.json"
        spec.write_text(json.dumps({"name": "tiny", "stem": "conv_r1_k3_s1_e1_c8",
                                    "stages": ["mbconv_r1_k3_s1_e1_c8"], "head": None, "resolution": 16}))
        seen: list[int] = []
        set_threads = torch.set_num_threads
        monkeypatch.setattr(torch, "set_num_threads", lambda n: (seen.append(n), set_threads(n))[1])
        for command in (["eval", "--weights", str(tmp_path / "run" / "last.pt"), "--data", "fashion-mnist",
                         "--data-dir", str(data)], ["predict", str(tmp_path / "shirt.png"), "--weights",
                                                    str(tmp_path / "run" / "last.pt")],
                        ["bench", str(spec), "--runs", "2", "--warmup", "0"]):
            seen.clear()
            assert main([*command, "--threads", "1"]) == 0, (command, capsys.readouterr().err)
            assert 1 in seen, command  # the command used the threads it was given
    finally:
        torch.set_num_threads(before)
