"""Recipes, TF-style RMSProp, schedules, EMA, and the trainer's outputs (metrics, checkpoints, NaN stop)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from torch import nn

import effnet
import effnet.train.datasets as datasets
import effnet.train.loop as loop
from effnet.errors import InputError
from effnet.train import (
    PRESETS,
    ModelEma,
    RMSpropTF,
    TrainConfig,
    Trainer,
    TrainingDiverged,
    load_recipe,
    lr_factor,
    param_groups,
)
from test_data import make_fashion

TINY = {"width": 0.25, "depth": 0.1, "image_size": 16}


def tiny_config(data: Path, output: Path, **kw) -> TrainConfig:
    values = {"model": "efficientnet", "model_options": dict(TINY), "data": "fashion-mnist", "data_dir": str(data),
              "output": str(output), "recipe": load_recipe("small-data"), "epochs": 1, "batch_size": 8,
              "limit_val": 8, "progress": False}
    values.update(kw)
    return TrainConfig(**values)


def test_paper_recipe_matches_section_5_2() -> None:
    r = PRESETS["paper"]
    assert (r.optimizer, r.rms_decay, r.momentum, r.eps) == ("rmsproptf", 0.9, 0.9, 1e-3)
    assert (r.lr, r.lr_batch, r.decay_rate, r.decay_epochs) == (0.256, 4096, 0.97, 2.4)
    assert (r.bn_momentum, r.weight_decay, r.label_smoothing, r.drop_path, r.ema_decay) == (0.01, 1e-5, 0.1, 0.2,
                                                                                           0.9999)
    assert r.augmentation.policy == "autoaugment" and r.dropout is None  # dropout comes from the (scaled) model
    assert r.scaled_lr(2048) == pytest.approx(0.128)


def test_recipe_file_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("base: small-data\nlr: 0.01\nepochs: 3\naugment: randaugment\n")
    recipe = load_recipe(tmp_path / "mine.yaml", {"weight_decay": "0", "ema_warmup": "false"})
    assert (recipe.name, recipe.optimizer, recipe.lr, recipe.epochs) == ("mine", "adamw", 0.01, 3)
    assert recipe.weight_decay == 0.0 and recipe.ema_warmup is False and recipe.augmentation.policy == "randaugment"
    (tmp_path / "r.json").write_text(json.dumps({"label_smoothing": 0.2}))
    assert load_recipe(tmp_path / "r.json").optimizer == "rmsproptf"  # base defaults to paper
    with pytest.raises(InputError, match="unknown recipe field"):
        load_recipe("paper", {"learning_rate": 1})
    with pytest.raises(InputError, match="needs a int"):
        load_recipe("paper", {"epochs": "ten"})
    # "none" is a value of the augmentation policy (older name: `augment`), not an empty field; for optional fields
    # it means None
    assert load_recipe("paper", {"augment": "none", "dropout": "none"}).augmentation.policy == "none"
    nested = load_recipe("paper", {"augmentation.policy": "randaugment", "random_erasing": "0.25"}).augmentation
    assert (nested.policy, nested.random_erasing) == ("randaugment", 0.25)
    with pytest.raises(InputError, match="cannot be empty"):
        load_recipe("paper", {"lr": "none"})
    with pytest.raises(InputError, match="unknown recipe"):
        load_recipe("nonsense")


def test_rmsprop_tf_matches_timm_and_the_formula() -> None:
    timm_optim = pytest.importorskip("timm.optim")
    torch.manual_seed(0)
    a = torch.randn(5, 3, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    ours = RMSpropTF([a], lr=0.1, decay=0.9, momentum=0.9, eps=1e-3, weight_decay=1e-2)
    theirs = timm_optim.RMSpropTF([b], lr=0.1, alpha=0.9, momentum=0.9, eps=1e-3, weight_decay=1e-2)
    for step in range(4):
        grad = torch.randn(5, 3)
        for p, opt in ((a, ours), (b, theirs)):
            p.grad = grad.clone()
            opt.step()
        assert torch.allclose(a, b, atol=1e-6), step
    # first step by hand: ms = 1 + 0.1 * (g^2 - 1); update = lr * g / sqrt(ms + eps)
    p = torch.tensor([1.0], requires_grad=True)
    opt = RMSpropTF([p], lr=0.5, decay=0.9, momentum=0.9, eps=1e-3)
    p.grad = torch.tensor([2.0])
    opt.step()
    assert float(p.detach()) == pytest.approx(1.0 - 0.5 * 2.0 / math.sqrt(1 + 0.1 * 3 + 1e-3), rel=1e-6)


def test_no_weight_decay_on_bn_and_bias() -> None:
    model = effnet.create_model("efficientnet", num_classes=3, **TINY)
    decay, no_decay = param_groups(model, 1e-5)
    assert decay["weight_decay"] == 1e-5 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decay["params"]) and all(p.ndim <= 1 for p in no_decay["params"])
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    assert any(p is bn.weight for p in no_decay["params"])
    assert any(p is model.classifier.bias for p in no_decay["params"])


def test_step_schedule_warmup_then_097_every_24_epochs() -> None:
    r = load_recipe("paper", {"warmup_epochs": 1})
    spe = 10
    assert lr_factor(0, spe, r, 1000) == pytest.approx(0.1)
    assert lr_factor(9, spe, r, 1000) == pytest.approx(1.0)
    assert lr_factor(23, spe, r, 1000) == 1.0  # epoch 2.3 < 2.4
    assert lr_factor(24, spe, r, 1000) == pytest.approx(0.97)
    assert lr_factor(48, spe, r, 1000) == pytest.approx(0.97**2)
    cosine = load_recipe("small-data", {"warmup_epochs": 0})
    assert lr_factor(0, spe, cosine, 100) == 1.0 and lr_factor(100, spe, cosine, 100) == pytest.approx(0.0)


def test_ema_warmup_and_average() -> None:
    model = nn.Linear(2, 1, bias=False)
    nn.init.zeros_(model.weight)
    ema = ModelEma(model, decay=0.9999, warmup=True)
    assert ema.current_decay() == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    with torch.no_grad():
        model.weight.fill_(1.0)
    ema.update(model)
    assert torch.allclose(ema.module.weight, torch.full((1, 2), 0.9))
    assert ema.current_decay() == pytest.approx(2 / 11)
    plain = ModelEma(model, decay=0.5, warmup=False)
    with torch.no_grad():
        model.weight.fill_(3.0)
    plain.update(model)
    assert torch.allclose(plain.module.weight, torch.full((1, 2), 2.0))


def test_ema_averages_batchnorm_statistics_and_copies_counters() -> None:
    """BN running statistics are averaged with the weights they belong to (TF reference, timm), not copied."""
    model = nn.Sequential(nn.Conv2d(1, 2, 1), nn.BatchNorm2d(2))
    ema = ModelEma(model, decay=0.5, warmup=False)
    model.train()
    model(torch.randn(8, 1, 4, 4) * 3 + 5)  # moves running_mean towards ~conv(5), counts one batch
    ema.update(model)
    live, averaged = model[1], ema.module[1]
    assert torch.allclose(averaged.running_mean, 0.5 * live.running_mean)  # halfway from the initial zeros
    assert torch.allclose(averaged.running_var, 0.5 * live.running_var + 0.5)  # from the initial ones
    assert int(averaged.num_batches_tracked) == int(live.num_batches_tracked) == 1


def test_training_writes_metrics_checkpoints_and_pretrained(tmp_path: Path) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=12)
    out = tmp_path / "run"
    summary = Trainer(tiny_config(data, out, epochs=2)).fit()
    assert summary["status"] == "finished" and summary["global_step"] == 8
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    keys = {"epoch", "step", "train_loss", "val_loss", "val_top1", "val_top5", "ema_top1", "lr", "images_per_s",
            "seconds"}
    assert [r["epoch"] for r in rows] == [1, 2] and [r["step"] for r in rows] == [4, 8]
    assert all(keys <= set(r) and 0 <= r["val_top1"] <= r["val_top5"] <= 100 for r in rows)
    assert {p.name for p in out.iterdir()} == {"metrics.jsonl", "last.pt", "best.pt", "pretrained", "pretrained-ema"}
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    assert checkpoint["epoch"] == 2 and checkpoint["global_step"] == 8
    model = effnet.from_pretrained(out / "pretrained")
    assert all(torch.equal(model.state_dict()[k], v) for k, v in checkpoint["model_state"].items())
    assert model.spec.resolution == 16 and model.num_classes == 10
    # the saved model carries the run's eval preprocessing and class names, so predict/export/quantize match it
    cfg = model.pretrained_cfg
    assert (cfg["input_size"], cfg["crop_pct"], cfg["interpolation"]) == (16, 1.0, "bilinear")
    assert cfg["labels"][:2] == ["T-shirt/top", "Trouser"] and len(cfg["labels"]) == 10
    assert model.preprocessing.class_names(10)[9] == "Ankle boot"
    assert effnet.from_pretrained(out / "pretrained-ema").preprocessing == model.preprocessing


def test_the_weights_better_on_validation_are_the_ones_the_test_split_scores(tmp_path: Path, monkeypatch) -> None:
    assert loop.scored_weights({"top1": 60.0, "ema": {"top1": 61.0}}) == "ema"
    assert loop.scored_weights({"top1": 60.0, "ema": {"top1": 60.0}}) == "model"  # a tie keeps the model's
    assert loop.scored_weights({"top1": 60.0}) == loop.scored_weights(None) == "model"  # no EMA
    data = make_fashion(tmp_path / "data", n_train=60, n_test=12)
    trainer = Trainer(tiny_config(data, tmp_path / "run", val_split="holdout", limit_val=None))
    scored = []

    def evaluate(module, loader, **kwargs):  # the EMA wins on validation whatever the weights
        result = real_evaluate(module, loader, **kwargs)
        scored.append((module, loader))
        ema_on_val = module is trainer.ema.module and loader is trainer.val_loader
        return {**result, "top1": 100.0} if ema_on_val else {**result, "top1": min(result["top1"], 99.0)}

    real_evaluate = loop.evaluate
    monkeypatch.setattr(loop, "evaluate", evaluate)
    trainer.fit()
    last = trainer.history[-1]
    assert last["test_weights"] == "ema" and last["ema_top1"] == 100.0
    tested = [module for module, loader in scored if loader is trainer.test_loader]
    assert tested == [trainer.ema.module]  # the test split scored once, with the EMA's weights


def test_trainer_defaults_to_channels_last_on_cpu(tmp_path: Path) -> None:
    trainer = Trainer(tiny_config(make_fashion(tmp_path / "data", n_train=16, n_test=8), tmp_path / "run"))
    assert trainer.channels_last is True
    off = Trainer(tiny_config(tmp_path / "data", tmp_path / "run2", channels_last=False))
    assert off.channels_last is False


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path: Path, monkeypatch) -> None:
    data = make_fashion(tmp_path / "data", n_train=32, n_test=8)
    out = tmp_path / "run"
    Trainer(tiny_config(data, out, epochs=1)).fit()
    before = (out / "last.pt").read_bytes(), (out / "metrics.jsonl").read_bytes()
    real = datasets.SeededDataset.__getitem__

    def poisoned(self, index):
        image, label = real(self, index)
        return image * float("nan") if self.epoch == 1 else image, label

    monkeypatch.setattr(datasets.SeededDataset, "__getitem__", poisoned)
    with pytest.raises(TrainingDiverged, match=r"diverged in epoch .*: the loss became nan at step 5; .*Last good "
                       r"checkpoint: .*last\.pt"):
        Trainer(tiny_config(data, out, epochs=2, resume=True)).fit()
    assert ((out / "last.pt").read_bytes(), (out / "metrics.jsonl").read_bytes()) == before
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_contradictory_options_are_rejected(tmp_path: Path) -> None:
    data = make_fashion(tmp_path / "data", n_train=16, n_test=8)
    with pytest.raises(InputError, match="contradict"):
        Trainer(tiny_config(data, tmp_path / "a", pretrained=True, weights="x.pt"))
    with pytest.raises(InputError, match="needs a CUDA device"):
        Trainer(tiny_config(data, tmp_path / "a", amp="fp16", device="cpu"))
    with pytest.raises(InputError, match="no checkpoint"):
        Trainer(tiny_config(data, tmp_path / "a", resume=True))
    with pytest.raises(InputError, match="needs pretrained weights or a weights file"):
        Trainer(tiny_config(data, tmp_path / "a", freeze_backbone=True))
    with pytest.raises(InputError, match="larger than the training set"):
        Trainer(tiny_config(data, tmp_path / "a", batch_size=32)).fit()


def test_tensorboard_logs_steps_and_epochs(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard is a test dependency (pip install 'effnet[test]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    data = make_fashion(tmp_path / "data", n_train=32, n_test=8)
    out = tmp_path / "run"
    Trainer(tiny_config(data, out, epochs=2, tensorboard=True)).fit()
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "val/val_top1", "val/ema_top1", "epoch/train_loss"} <= tags
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 9))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [e.value for e in events.Scalars("val/val_top1")] == pytest.approx([r["val_top1"] for r in rows])


def test_tensorboard_missing_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    data = make_fashion(tmp_path / "data", n_train=16, n_test=8)
    with pytest.raises(InputError, match="needs the tensorboard package"):
        Trainer(tiny_config(data, tmp_path / "run", tensorboard=True)).fit()


def test_per_sample_seeds_draw_the_stream_torch_manual_seed_would_without_touching_accelerators(monkeypatch) -> None:
    """Sample i of epoch e is augmented from seed (seed, e, i) on the CPU generator alone: the same numbers as
    `torch.manual_seed` gives, without its per-call cost of seeding (and tracing for) every accelerator backend."""

    class Draws(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return 4

        def __getitem__(self, index: int) -> torch.Tensor:
            return torch.rand(3)

    seeded = datasets.SeededDataset(Draws(), seed=7)
    seeded.set_epoch(2)
    calls: list[int] = []
    monkeypatch.setattr(torch, "manual_seed", lambda value: calls.append(value))
    draws = [seeded[i] for i in range(4)]
    monkeypatch.undo()
    assert calls == []  # the global (all-device) seeding is never asked for
    for index, drawn in enumerate(draws):
        torch.manual_seed(((datasets.epoch_seed(7, 2) << 32) + index) % (2**63))
        assert torch.equal(drawn, torch.rand(3))
    assert not torch.equal(draws[0], draws[1])
