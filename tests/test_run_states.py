"""Every state a crash can leave a run folder in resumes: a run killed just before or just after each write of its
checkpoints (best.pt, last.pt, metrics.jsonl) continues to the same end -- as `--resume` does, and as a study's
trial does when it runs again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import effnet
from effnet.experiments.trial import ProxySchedule, train_trial
from effnet.train import TrainConfig, Trainer, load_recipe
from effnet.train.state import RunFolder
from test_data import make_fashion

SPEC = effnet.scale("efficientnet-b0-small", width=0.25, depth=0.1).replace(resolution=16, name="tiny")
EPOCHS = 2


class Died(BaseException):
    """The process ended here (kill -9): nothing after this point ran."""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_fashion(tmp_path_factory.mktemp("data"), n_train=24, n_test=16)


def config(data: Path, output: Path, resume: bool = False) -> TrainConfig:
    return TrainConfig(model=SPEC, data="fashion-mnist", data_dir=str(data), output=str(output),
                       recipe=load_recipe("proxy", {"warmup_epochs": "0"}), epochs=EPOCHS, batch_size=8,
                       progress=False, save_pretrained=False, resume=resume, device="cpu")


def die_at(monkeypatch, write: int, when: str) -> list[str]:
    """Make the `write`-th checkpoint write of the next run end the process just before or just after it."""
    real, seen = RunFolder._write, []

    def dying(self, path, writer):
        seen.append(path.name)
        if len(seen) == write and when == "before":
            raise Died(path.name)
        real(self, path, writer)
        if len(seen) == write and when == "after":
            raise Died(path.name)

    monkeypatch.setattr(RunFolder, "_write", dying)
    return seen


def test_a_run_killed_at_any_checkpoint_write_resumes(tmp_path: Path, data: Path, monkeypatch) -> None:
    writes = die_at(monkeypatch, 0, "never")  # the reference run: which files it writes, in order
    reference = Trainer(config(data, tmp_path / "reference")).fit()
    monkeypatch.undo()
    assert writes[:2] == ["best.pt", "last.pt"] and writes.count("metrics.jsonl") == EPOCHS
    for write in range(1, len(writes) + 1):
        for when in ("before", "after"):
            run = tmp_path / f"run-{write}-{when}"
            seen = die_at(monkeypatch, write, when)
            with pytest.raises(Died):
                Trainer(config(data, run)).fit()
            monkeypatch.undo()
            assert seen == writes[:write]
            resumable = RunFolder(run).latest() is not None
            summary = Trainer(config(data, run, resume=resumable)).fit()  # --resume wherever there is a checkpoint
            rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
            assert [row["epoch"] for row in rows] == list(range(1, EPOCHS + 1)), (write, when)
            assert summary["status"] == "finished" and summary["global_step"] == reference["global_step"]
            assert rows[-1]["val_top1"] == reference["last"]["val_top1"]  # the same run, as if nothing happened


@pytest.mark.parametrize("write", [1, 2, 4])
def test_a_study_trial_killed_at_a_write_runs_again_to_its_end(tmp_path: Path, data: Path, monkeypatch,
                                                                write) -> None:
    proxy = ProxySchedule(data_dir=str(data), epochs=EPOCHS, batch_size=8, val_split="dataset", val_points=0,
                          overrides=("warmup_epochs=0",))
    die_at(monkeypatch, write, "after")
    with pytest.raises(Died):
        train_trial(SPEC, proxy, 0, tmp_path / "trial")
    monkeypatch.undo()
    result = train_trial(SPEC, proxy, 0, tmp_path / "trial")  # never "already holds a run": it continues
    assert result["epochs"] == EPOCHS


# ----- diverged or corrupt training is never reported as success -------------------------------------------------
CORRUPTIONS = {
    "NaN BatchNorm statistics": lambda model: model.stem.bn.running_mean.fill_(float("nan")),
    "a negative BatchNorm variance": lambda model: model.stem.bn.running_var.fill_(-1.0),
    "an infinite weight": lambda model: model.classifier.weight.data.fill_(float("inf")),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_run_whose_state_becomes_unusable_stops_and_keeps_its_last_good_checkpoint(
        tmp_path: Path, data: Path, monkeypatch, case: str) -> None:
    from effnet.hub.checkpoints import load_checkpoint
    from effnet.train import TrainingDiverged

    real, steps = Trainer._optimizer_step, []

    def step(self) -> None:
        real(self)
        steps.append(1)
        if len(steps) == 4:  # in the second epoch (3 steps each)
            with __import__("torch").no_grad():
                CORRUPTIONS[case](self.model)

    monkeypatch.setattr(Trainer, "_optimizer_step", step)
    run = tmp_path / "run"
    with pytest.raises(TrainingDiverged, match="diverged in epoch 2") as stop:
        Trainer(config(data, run)).fit()
    assert "Last good checkpoint" in str(stop.value) and "\n" not in str(stop.value)
    kept = load_checkpoint(run / "last.pt")
    assert kept["epoch"] == 1  # the checkpoint of the last good epoch, untouched
    model = effnet.load_model(run / "last.pt")  # and it loads: it was checked when it was read
    assert model.num_classes == 10


def test_weights_with_a_negative_variance_are_refused_wherever_they_are_read(tmp_path: Path) -> None:
    import torch

    model = effnet.build(SPEC, 10)
    state = model.state_dict()
    state["stem.bn.running_var"] = -torch.ones_like(state["stem.bn.running_var"])
    path = tmp_path / "bad.pt"
    torch.save(state, path)
    with pytest.raises(effnet.WeightsError, match="negative variances"):
        effnet.load_weights(effnet.build(SPEC, 10), path)
    with torch.no_grad():
        model.stem.bn.running_var.fill_(float("nan"))
    with pytest.raises(effnet.WeightsError, match="refusing to save"):
        effnet.save_pretrained(model, tmp_path / "saved")
    assert not (tmp_path / "saved").exists()
