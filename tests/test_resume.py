"""Exact resume on CPU: a run stopped mid-epoch (by --max-steps or SIGTERM) and resumed takes the same steps,
with the same losses and final weights, as an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch

import effnet.train.datasets as datasets
from effnet.errors import WeightsError
from effnet.train import TrainConfig, Trainer, load_recipe
from test_data import make_fashion

TINY = {"width": 0.25, "depth": 0.1, "image_size": 16}


def config(data: Path, output: Path, **kw) -> TrainConfig:
    # augmentation, random erasing, dropout, drop-path and EMA all on: every RNG must be restored.
    recipe = load_recipe("small-data", {"random_erasing": 0.5, "augment": "randaugment", "ema_decay": 0.9})
    values = {"model": "efficientnet", "model_options": dict(TINY), "data": "fashion-mnist", "data_dir": str(data),
              "output": str(output), "recipe": recipe, "epochs": 2, "batch_size": 8, "limit_val": 8,
              "progress": False, "save_pretrained": False, "seed": 5}
    values.update(kw)
    return TrainConfig(**values)


def state(output: Path) -> dict[str, torch.Tensor]:
    return torch.load(output / "last.pt", weights_only=True)["model_state"]


def test_resume_after_max_steps_is_exact(tmp_path: Path) -> None:
    data = make_fashion(tmp_path / "data", n_train=48, n_test=8)  # 6 steps per epoch
    full = Trainer(config(data, tmp_path / "full", max_steps=9))
    full.fit()
    first = Trainer(config(data, tmp_path / "split", max_steps=4))  # stops mid-epoch 1
    first.fit()
    second = Trainer(config(data, tmp_path / "split", max_steps=9, resume=True))
    second.fit()
    assert len(full.step_losses) == 9 and len(first.step_losses) == 4 and len(second.step_losses) == 5
    assert first.step_losses == full.step_losses[:4]
    assert second.step_losses == full.step_losses[4:]
    a, b = state(tmp_path / "full"), state(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ema_a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["ema_state"]
    ema_b = torch.load(tmp_path / "split" / "last.pt", weights_only=True)["ema_state"]
    assert all(torch.equal(ema_a[k], ema_b[k]) for k in ema_a)
    rows = [line for line in (tmp_path / "split" / "metrics.jsonl").read_text().splitlines() if line]
    assert len(rows) == 3  # partial epoch 1, rest of epoch 1, partial epoch 2


def test_sigterm_saves_and_resume_matches(tmp_path: Path, monkeypatch) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=8)  # 4 steps per epoch
    full = Trainer(config(data, tmp_path / "full", epochs=1))
    full.fit()

    stop_while_loading(monkeypatch, 10)  # the 2nd step's batch
    stopped = Trainer(config(data, tmp_path / "split", epochs=1))
    summary = stopped.fit()
    monkeypatch.undo()
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert summary["global_step"] == 2 and (tmp_path / "split" / "last.pt").exists()
    assert not (tmp_path / "split" / "metrics.jsonl").exists()
    resumed = Trainer(config(data, tmp_path / "split", epochs=1, resume=True))
    resumed.fit()
    assert stopped.step_losses + resumed.step_losses == full.step_losses
    a, b = state(tmp_path / "full"), state(tmp_path / "split")
    assert all(torch.equal(a[k], b[k]) for k in a)


def stop_while_loading(monkeypatch, item: int) -> None:
    """SIGTERM arrives while the loader reads training item `item` (1-based); the step it feeds still runs."""
    real = datasets.SeededDataset.__getitem__
    calls = {"n": 0}

    def getitem(self, index):
        calls["n"] += 1
        if calls["n"] == item:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, index)

    monkeypatch.setattr(datasets.SeededDataset, "__getitem__", getitem)


def rows(output: Path) -> list[dict]:
    return [json.loads(line) for line in (output / "metrics.jsonl").read_text().splitlines() if line]


def test_an_epoch_resumed_midway_counts_its_whole_time_images_and_loss(tmp_path: Path, monkeypatch) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=8)  # 4 steps per epoch
    full = Trainer(config(data, tmp_path / "full", epochs=1))
    full.fit()
    stop_while_loading(monkeypatch, 10)  # the 2nd step's batch
    stopped = Trainer(config(data, tmp_path / "split", epochs=1))
    assert stopped.fit()["status"] == "interrupted"
    monkeypatch.undo()
    held = torch.load(tmp_path / "split" / "last.pt", weights_only=True)["epoch_so_far"]
    assert held["steps"] == 2 and held["images"] == 16 and held["train_seconds"] > 0
    assert held["loss_sum"] == pytest.approx(sum(stopped.step_losses))
    resumed = Trainer(config(data, tmp_path / "split", epochs=1, resume=True))
    resumed.fit()
    (row,) = rows(tmp_path / "split")
    assert row["train_loss"] == pytest.approx(rows(tmp_path / "full")[0]["train_loss"])  # all 4 steps, not 2
    assert row["train_seconds"] > held["train_seconds"]
    assert row["images_per_s"] * row["train_seconds"] == pytest.approx(32)
    assert torch.load(tmp_path / "split" / "last.pt", weights_only=True)["epoch_so_far"]["steps"] == 0


def test_a_stop_on_the_last_step_still_validates_and_tests_on_resume(tmp_path: Path, monkeypatch) -> None:
    data = make_fashion(tmp_path / "data", n_train=48, n_test=8)  # 40 to train on (5 steps), 8 held out
    stop_while_loading(monkeypatch, 34)  # the 5th and last step's batch
    stopped = Trainer(config(data, tmp_path / "split", epochs=1, val_split="holdout"))
    summary = stopped.fit()
    monkeypatch.undo()
    assert summary["status"] == "interrupted" and summary["global_step"] == 5
    resumed = Trainer(config(data, tmp_path / "split", epochs=1, val_split="holdout", resume=True))
    assert resumed.fit()["status"] == "finished" and resumed.step_losses == []
    (row,) = rows(tmp_path / "split")
    assert row["epoch"] == 1 and row["val_top1"] is not None and row["test_top1"] is not None
    assert row["train_loss"] == pytest.approx(sum(stopped.step_losses) / 5)


def test_a_corrupt_epoch_so_far_is_refused(tmp_path: Path, monkeypatch) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=8)
    stop_while_loading(monkeypatch, 10)
    Trainer(config(data, tmp_path / "split", epochs=1)).fit()
    monkeypatch.undo()
    state = torch.load(tmp_path / "split" / "last.pt", weights_only=True)
    state["epoch_so_far"] = {"train_seconds": "soon"}
    torch.save(state, tmp_path / "split" / "last.pt")
    with pytest.raises(WeightsError, match="epoch_so_far"):
        Trainer(config(data, tmp_path / "split", epochs=1, resume=True)).fit()
