"""Files written before the training settings left `NetSpec` (issue 22, item 4) keep working: spec files,
`save_pretrained` folders and trainer checkpoints load with the same logits, and the training settings their specs
held come back as the model's training defaults; a study recorded with old-format specs resumes under its own name,
and its results still make a report. The fixtures in tests/data/old-format were written by the old code."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

import effnet
from effnet.architecture.spec import LEGACY_TRAINING_FIELDS, NetSpec, current_format, legacy_training
from effnet.architecture.training_defaults import TRAINING_FIELDS, TrainingDefaults
from effnet.cli import main, make_parser
from effnet.commands.study_options import proxy_from_args
from effnet.engine import Engine
from effnet.errors import InputError, WeightsError
from effnet.experiments.convergence import ConvergenceCheck
from effnet.experiments.report import write_report
from effnet.experiments.scaling import study_baseline
from effnet.train import TrainConfig, Trainer, load_recipe
from test_data import make_fashion

OLD = Path(__file__).parent / "data" / "old-format"
STORED = TrainingDefaults(dropout=0.3, drop_path=0.1, bn_momentum=0.05)  # what the old spec.json held
X = torch.linspace(-2, 2, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16)


def expected(name: str) -> torch.Tensor:
    return torch.tensor(json.loads((OLD / "expected_logits.json").read_text())[name])


def logits(model: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(X)


def settings(model: torch.nn.Module) -> TrainingDefaults:
    """The training settings a module was really built with, read from its layers."""
    momenta = {m.momentum for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)}
    rates = [m.drop_path_rate for m in model.modules() if isinstance(m, effnet.architecture.layers.MBConv)]
    assert len(momenta) == 1
    total = len(rates)  # the last block's rate is drop_path * (blocks - 1) / blocks
    return TrainingDefaults(model.dropout.p, round(rates[-1] * total / (total - 1), 9), momenta.pop())


def test_the_settings_old_specs_held_are_the_training_defaults_fields() -> None:
    assert LEGACY_TRAINING_FIELDS == TRAINING_FIELDS
    old = json.loads((OLD / "spec.json").read_text())
    assert set(LEGACY_TRAINING_FIELDS) <= set(old)
    spec = NetSpec.from_dict(old)
    assert not set(LEGACY_TRAINING_FIELDS) & set(spec.to_dict())
    assert NetSpec.from_dict(spec.to_dict()) == spec
    assert legacy_training(old) == STORED.to_dict() and legacy_training(spec.to_dict()) == {}
    assert current_format({"a": [old], "b": 1}) == {"a": [spec.to_dict()], "b": 1}


def test_an_old_spec_file_builds_the_same_network_and_hands_back_its_training_settings() -> None:
    source = effnet.resolve_source(OLD / "spec.json")
    assert source.training == STORED
    torch.manual_seed(0)
    model = effnet.load_model(OLD / "spec.json", num_classes=10)
    assert torch.allclose(logits(model), expected("spec.json"), atol=1e-5)
    assert model.card.training == STORED and settings(model) == STORED
    assert effnet.load_model(OLD / "spec.json", dropout=0.0).card.training == replace(STORED, dropout=0.0)


@pytest.mark.parametrize("name", ["pretrained", "last.pt", "last.pt ema"])
def test_old_saved_models_load_with_the_same_logits(name: str) -> None:
    path, ema = OLD / name.split()[0], name.endswith("ema")
    model = effnet.load_model(path, ema=ema)
    assert torch.allclose(logits(model), expected(name), atol=1e-5)
    assert model.card.training == STORED and settings(model) == STORED


def test_a_folder_saved_again_holds_its_training_settings_beside_its_spec(tmp_path: Path) -> None:
    effnet.save_pretrained(effnet.load_model(OLD / "pretrained"), tmp_path / "again")
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert config["training"] == STORED.to_dict() and not set(LEGACY_TRAINING_FIELDS) & set(config["spec"])
    model = effnet.load_model(tmp_path / "again")
    assert torch.allclose(logits(model), expected("pretrained"), atol=1e-5) and model.card.training == STORED


def _resume_config(data: Path, output: Path, **overrides: str) -> TrainConfig:
    """The old run's own configuration (tests/data/old-format/README.md), one epoch longer."""
    recipe = load_recipe("small-data", {"dropout": "none", "drop_path": "none", "bn_momentum": "none",
                                        "ema_decay": "0.9", **overrides})
    return TrainConfig(model=str(OLD / "spec.json"), data="fashion-mnist", data_dir=str(data), output=str(output),
                       recipe=recipe, epochs=2, batch_size=8, limit_val=8, progress=False, seed=3, threads=1,
                       resume=True, save_pretrained=False)


def test_an_old_trainer_checkpoint_resumes_and_refuses_other_training_settings(tmp_path: Path) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=8, size=16)
    for run in ("run", "other"):
        (tmp_path / run).mkdir()
        shutil.copy(OLD / "last.pt", tmp_path / run / "last.pt")
    trainer = Trainer(_resume_config(data, tmp_path / "run"))
    summary = trainer.fit()
    assert summary["global_step"] == 8 and len(trainer.step_losses) == 4  # 4 steps an epoch; the first was done
    assert trainer.model.card.training == STORED
    with pytest.raises(WeightsError, match=r"was trained with dropout 0\.3.*this run would build the model with "
                                           r"dropout 0\.1"):
        Trainer(_resume_config(data, tmp_path / "other", dropout="0.1")).fit()


def _recorded_check(folder: Path, epochs: int) -> ConvergenceCheck:
    """The check `effnet experiment convergence BASELINE ...` makes for a recorded folder (its data's 10 classes
    given, as `prepare` would find them), with the old-format baseline file it was made from."""
    args = make_parser("experiment").parse_args(
        ["experiment", "convergence", str(OLD / "baseline.json"), "--data", "fashion-mnist", "--epochs", str(epochs),
         "--seeds", "2", "--val-points", "8", "--output", str(folder)])
    proxy = proxy_from_args(args)
    check = ConvergenceCheck(study_baseline(args.baseline, proxy.resolution), proxy=proxy, seeds=args.seeds,
                             tolerance=args.tolerance, factor=args.factor)
    return replace(check, num_classes=10)


def test_a_study_recorded_with_old_format_specs_resumes_under_its_own_name(tmp_path: Path) -> None:
    folder = tmp_path / "convergence-6"
    shutil.copytree(OLD / "convergence-6", folder)
    record = json.loads((folder / "study.json").read_text())
    assert "dropout" in record["inputs"]["baseline"]  # the old format
    check = _recorded_check(folder, 6)
    assert check.plan().inputs != record["inputs"] and check.plan().inputs == current_format(record["inputs"])
    engine = Engine(check.plan(), folder, outputs=check.outputs)  # not "a different configuration"
    assert engine.plan.name == record["study"] and engine.plan.inputs == record["inputs"] and engine.exists
    counts = engine.counts()
    assert counts["planned"] == 4 and counts["done"] == 3  # the finished trials are the study's: never rerun
    check.derive(engine)  # the stored derived data (old-format baseline) stands
    assert NetSpec.from_dict(engine.all_derived()["baseline"]) == check.baseline
    assert json.loads((folder / "study.json").read_text()) == record
    with pytest.raises(InputError, match="different configuration"):  # another configuration is still refused
        Engine(replace(check, seeds=3).plan(), folder)


def test_a_report_is_written_again_from_old_format_results(tmp_path: Path, capsys) -> None:
    folder = tmp_path / "convergence-3"
    shutil.copytree(OLD / "convergence-3", folder)
    written = write_report(folder, tmp_path / "report")
    assert "convergence" in written[0].read_text().lower()
    assert main(["info", str(OLD / "spec.json")]) == 0
    assert "trains with dropout 0.3 by default" in capsys.readouterr().out
