"""The trainer: one process or torchrun/DDP, AMP on GPU, exact resume, atomic checkpoints, metrics.jsonl."""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from ..data import TransformConfig, eval_transform, make_dataset, mixup, train_transform
from ..errors import InputError, WeightsError
from .checkpoint import FORMAT, atomic_append_line, atomic_save, load_checkpoint, rng_state, set_rng_state
from .distributed import (
    ResumableSampler,
    ShardSampler,
    all_reduce_sum,
    barrier,
    cleanup_distributed,
    init_distributed,
)
from .ema import ModelEma
from .optim import build_optimizer, build_scheduler
from .recipe import PRESETS, Recipe
from .tensorboard import TensorBoardLog


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainConfig:
    """What to train on what, and where; `recipe` says how. `batch_size` is per process and micro-batch:
    the global batch is batch_size x accum_steps x world size (the lr scales with it)."""

    model: str = "efficientnet-b0"
    model_options: dict[str, Any] = field(default_factory=dict)
    data: str = "fashion-mnist"
    data_dir: str | None = None
    output: str = "runs/effnet"
    recipe: Recipe = field(default_factory=lambda: PRESETS["paper"])
    epochs: int | None = None
    batch_size: int | None = None
    max_steps: int | None = None
    limit_train: int | None = None
    limit_val: int | None = None
    seed: int = 0
    resume: bool | str = False
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None
    compile: bool = False
    accum_steps: int = 1
    workers: int = 0
    on_bad_image: str = "skip"
    sync_bn: bool = False
    pretrained: bool = False
    weights: str | None = None
    freeze_backbone: bool = False
    freeze_bn: bool = False
    num_classes: int | None = None
    progress: bool = True
    save_pretrained: bool = True
    tensorboard: bool = False


class SeededDataset(Dataset):
    """Wraps a dataset so sample i of epoch e is augmented with its own seed (seed, e, i): augmentation is then
    independent of worker count, rank and interruption, which makes resume exact."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch * 7_919 + index) % (2**63))
            return self.dataset[index]


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("--device cuda was asked for but no CUDA device is available")
    if name.split(":")[0] not in ("cpu", "cuda", "mps"):
        raise InputError(f"unknown device {name!r}; use cpu, cuda or auto")
    return torch.device(name)


def default_channels_last(device: torch.device | str) -> bool:
    """Channels-last is the trainer's default on CPU and CUDA: oneDNN's CPU convolutions and cuDNN's tensor-core
    kernels both prefer NHWC (EfficientNet-B0 trains 1.3-2.5x faster on CPU; BENCHMARKS.md)."""
    return torch.device(device).type in ("cpu", "cuda")


def _amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    if amp not in ("auto", "bf16", "fp16", "off"):
        raise InputError(f"--amp must be auto, bf16, fp16 or off, got {amp!r}")
    if device.type != "cuda":
        if amp in ("bf16", "fp16"):
            raise InputError(f"--amp {amp} needs a CUDA device; CPU training runs in fp32")
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}[amp]


def check_options(config: TrainConfig) -> None:
    """Reject contradictory or impossible option combinations before any work (one-line errors)."""
    if config.pretrained and config.weights:
        raise InputError("--pretrained and --weights contradict each other; pass one")
    if config.resume and (config.pretrained or config.weights):
        raise InputError("--resume restores the weights from the checkpoint; drop --pretrained/--weights")
    if (config.freeze_backbone or config.freeze_bn) and not (config.pretrained or config.weights or config.resume):
        raise InputError("--freeze-backbone/--freeze-bn need --pretrained or --weights (a trained backbone)")
    for name in ("max_steps", "limit_train", "limit_val", "epochs", "batch_size", "num_classes"):
        value = getattr(config, name)
        if value is not None and value < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    if config.accum_steps < 1 or config.workers < 0:
        raise InputError("--accum-steps must be >= 1 and --workers >= 0")
    if config.on_bad_image not in ("skip", "fail"):
        raise InputError(f"--on-bad-image must be skip or fail, got {config.on_bad_image!r}")
    output = Path(config.output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output {output} is a file, not a directory")


class _StopFlag:
    """SIGINT/SIGTERM set a flag; the loop saves a checkpoint at the next step boundary and exits."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    """Builds model, data, optimizer and schedule from a `TrainConfig` and runs `fit()`.

    `step_losses` holds the (rank-averaged) loss of every optimizer step taken by this process."""

    def __init__(self, config: TrainConfig) -> None:
        check_options(config)
        self.config, self.recipe = config, config.recipe
        self.output = Path(config.output)
        self.device = _device(config.device)
        self.amp_dtype = _amp_dtype(config.amp, self.device)
        if config.sync_bn and self.device.type != "cuda":
            raise InputError("--sync-bn needs CUDA devices (PyTorch's SyncBatchNorm has no CPU kernel)")
        self.channels_last = (default_channels_last(self.device) if config.channels_last is None
                              else config.channels_last)
        self.epochs = config.epochs or self.recipe.epochs
        self.batch_size = config.batch_size or self.recipe.batch_size
        self.step_losses: list[float] = []
        self.history: list[dict[str, Any]] = []
        self.checkpoint_path = self.output / "last.pt"
        resume = config.resume
        self.resume_from: Path | None = None
        if resume:
            self.resume_from = self.checkpoint_path if resume is True else Path(str(resume))
            if not self.resume_from.is_file():
                raise InputError(f"--resume: no checkpoint at {self.resume_from}")
        elif self.checkpoint_path.exists():
            raise InputError(f"{self.output} already holds a run (last.pt); pass --resume or another --output")

    # ----- setup -------------------------------------------------------------------------------------
    def _datasets(self, resolution: int) -> None:
        c, r = self.config, self.recipe
        tf = TransformConfig(resolution, r.augment, r.randaugment_ops, r.randaugment_magnitude, r.crop_scale_min,
                             r.hflip, r.random_erasing, r.crop_fraction, **self._normalization())
        self.eval_transform_config = tf
        train = make_dataset(c.data, "train", data_dir=c.data_dir, transform=train_transform(tf),
                             on_bad_image=c.on_bad_image)
        val = make_dataset(c.data, "val", data_dir=c.data_dir, transform=eval_transform(tf),
                           on_bad_image=c.on_bad_image, classes=list(train.classes))
        self.classes = list(train.classes)
        if c.limit_train:
            train = Subset(train, range(min(c.limit_train, len(train))))
        if c.limit_val:
            val = Subset(val, range(min(c.limit_val, len(val))))
        self.train_set, self.val_set = SeededDataset(train, c.seed), val

    def eval_preprocessing(self) -> dict[str, Any]:
        """How this run evaluates (input size, crop, interpolation, normalisation, class names): saved with the
        final model so `predict`, `export` and `quantize` preprocess the way training validated."""
        tf = self.eval_transform_config
        return {"input_size": tf.resolution, "crop_pct": tf.crop_fraction, "interpolation": "bilinear",
                "mean": tuple(tf.mean), "std": tuple(tf.std), "labels": list(self.classes),
                "num_classes": len(self.classes)}

    def _normalization(self) -> dict[str, tuple[float, float, float]]:
        """Pretrained weights keep the input normalisation they were trained with (Lite0: (x - 127) / 128)."""
        if not self.config.pretrained:
            return {}
        from ..pretrained import pretrained_entry

        config = pretrained_entry(self.config.model).config()
        return {"mean": tuple(config["mean"]), "std": tuple(config["std"])}

    def _model(self) -> nn.Module:
        from ..models import create_model
        from ..weights import load_weights

        c, r = self.config, self.recipe
        dataset_classes = len(self.classes)
        num_classes = c.num_classes or dataset_classes
        if num_classes < dataset_classes:
            raise InputError(f"labels out of range: the data has {dataset_classes} classes but --num-classes is "
                             f"{num_classes}")
        options = dict(c.model_options)
        for key in ("bn_momentum", "drop_path", "dropout"):
            if getattr(r, key) is not None:
                options.setdefault(key, getattr(r, key))
        model = create_model(c.model, num_classes=num_classes, pretrained=bool(c.pretrained),
                             reset_head=bool(c.pretrained), **options)
        if c.weights:
            from .checkpoint import is_trainer_checkpoint

            source = load_checkpoint(c.weights)["model_state"] if is_trainer_checkpoint(c.weights) else c.weights
            load_weights(model, source, reset_head=True)
        if c.freeze_backbone:
            for name, param in model.named_parameters():
                param.requires_grad_(name.startswith("classifier."))
        if c.freeze_bn:
            for module in model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    for param in module.parameters():
                        param.requires_grad_(False)
        return model

    def _set_train_mode(self) -> None:
        self.model.train()
        if self.config.freeze_bn or self.config.freeze_backbone:
            for module in self.model.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

    def _signature(self) -> dict[str, Any]:
        import json

        return {"model": self.config.model, "spec": json.dumps(self.model.spec.to_dict(), sort_keys=True),
                "num_classes": int(self.model.num_classes)}

    # ----- checkpoints -------------------------------------------------------------------------------
    def _state(self, epoch: int, step_in_epoch: int) -> dict[str, Any]:
        rngs = rng_state()
        if self.dist.enabled:  # every rank's torch RNG (dropout / drop-path masks differ per rank)
            gathered = [torch.empty_like(rngs["torch"]) for _ in range(self.dist.world_size)]
            torch.distributed.all_gather(gathered, rngs["torch"])
            rngs["torch_ranks"] = gathered
        return {"format": FORMAT, **self._signature(), "model_state": self.model.state_dict(),
                "ema_state": self.ema.state_dict() if self.ema else None,
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler else None,
                "epoch": epoch, "step_in_epoch": step_in_epoch, "global_step": self.global_step,
                "global_batch": self.global_batch, "best_top1": self.best_top1, "rng": rngs,
                "recipe": self.recipe.to_dict(), "classes": self.classes}

    def _save(self, state: dict[str, Any], best: bool = False) -> None:
        if self.dist.is_main:
            atomic_save(state, self.checkpoint_path)
            if best:
                atomic_save(state, self.output / "best.pt")
        barrier(self.dist)

    def _restore(self, path: Path) -> tuple[int, int]:
        data = load_checkpoint(path)
        mine = self._signature()
        if data.get("spec") != mine["spec"] or data.get("num_classes") != mine["num_classes"]:
            raise WeightsError(f"checkpoint {path} was written for model {data.get('model')!r} with "
                               f"{data.get('num_classes')} classes; this run builds {mine['model']!r} with "
                               f"{mine['num_classes']} classes (different architecture or options)")
        if data["global_batch"] != self.global_batch:
            raise InputError(f"--resume with global batch {self.global_batch} contradicts the checkpoint's "
                             f"{data['global_batch']} (batch size x accumulation x processes must match)")
        self.model.load_state_dict(data["model_state"])
        if self.ema and data["ema_state"] is not None:
            self.ema.load_state_dict(data["ema_state"])
        self.optimizer.load_state_dict(data["optimizer"])
        self.scheduler.load_state_dict(data["scheduler"])
        if self.scaler and data["scaler"]:
            self.scaler.load_state_dict(data["scaler"])
        self.global_step, self.best_top1 = int(data["global_step"]), float(data["best_top1"])
        rngs = data["rng"]
        if "torch_ranks" in rngs and len(rngs["torch_ranks"]) == self.dist.world_size:
            rngs = {**rngs, "torch": rngs["torch_ranks"][self.dist.rank]}
        set_rng_state(rngs)
        return int(data["epoch"]), int(data["step_in_epoch"])

    # ----- training ----------------------------------------------------------------------------------
    def setup(self) -> None:
        c = self.config
        self.dist = init_distributed(str(self.device))
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        if self.dist.is_main:
            self.output.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(c.seed)
        from ..models import resolve_spec

        self._datasets(resolve_spec(c.model, **c.model_options).resolution)
        self.model = self._model().to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        torch.manual_seed(c.seed + self.dist.rank)  # per-rank dropout / drop-path masks
        self.ema = (ModelEma(self.model, self.recipe.ema_decay, self.recipe.ema_warmup)
                    if self.recipe.ema_decay > 0 else None)
        net: nn.Module = self.model
        if c.sync_bn and self.dist.enabled:
            net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            self.model = net
        if self.dist.enabled:
            ids = [self.device.index] if self.device.type == "cuda" else None
            net = nn.parallel.DistributedDataParallel(net, device_ids=ids)
        self.net = torch.compile(net) if c.compile else net
        self.ddp = net if self.dist.enabled else None
        self.sampler = ResumableSampler(len(self.train_set), self.batch_size, c.accum_steps, self.dist, c.seed)
        self.global_batch = self.sampler.global_batch
        if self.sampler.steps_per_epoch < 1:
            raise InputError(f"global batch {self.global_batch} is larger than the training set "
                             f"({len(self.train_set)} images)")
        self.optimizer = build_optimizer(self.model, self.recipe, self.global_batch)
        self.scheduler = build_scheduler(self.optimizer, self.recipe, self.sampler.steps_per_epoch, self.epochs)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.global_step, self.best_top1 = 0, -1.0
        self.start = (0, 0)
        if self.resume_from:
            self.start = self._restore(self.resume_from)
        self.val_loader = DataLoader(self.val_set, batch_size=self.batch_size, num_workers=c.workers,
                                     sampler=ShardSampler(len(self.val_set), self.dist),
                                     pin_memory=self.device.type == "cuda", generator=torch.Generator())

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _loss(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        r = self.recipe
        if r.mixup_alpha > 0:
            images, soft = mixup(images, targets, len(self.classes), r.mixup_alpha, r.label_smoothing)
            with self._autocast():
                logits = self.net(images)
            return F.cross_entropy(logits.float(), soft)
        with self._autocast():
            logits = self.net(images)
        return F.cross_entropy(logits.float(), targets, label_smoothing=r.label_smoothing)

    def _validate(self) -> dict[str, Any]:
        from ..evaluate import evaluate  # not at import time: effnet.evaluate itself imports effnet.train

        kwargs = {"num_classes": len(self.classes), "device": self.device, "info": self.dist,
                  "amp_dtype": self.amp_dtype, "channels_last": self.channels_last, "classes": self.classes}
        result = evaluate(self.model, self.val_loader, **kwargs)
        if self.ema is not None:
            result["ema"] = evaluate(self.ema.module, self.val_loader, **kwargs)
        return result

    def _finish_epoch(self, epoch: int, step_in_epoch: int, losses: list[float], images: int, train_seconds: float,
                      started: float) -> dict[str, Any]:
        result = self._validate()
        row = {"epoch": epoch + 1, "step": self.global_step,
               "train_loss": sum(losses) / len(losses) if losses else None,
               "val_loss": result["loss"], "val_top1": result["top1"], "val_top5": result["top5"],
               "ema_top1": result["ema"]["top1"] if "ema" in result else None,
               "lr": self.optimizer.param_groups[0]["lr"],
               "images_per_s": images / train_seconds if train_seconds > 0 else None,
               "seconds": time.perf_counter() - started}
        if step_in_epoch < self.sampler.steps_per_epoch:
            row["partial"] = True
        best = result["top1"] > self.best_top1
        self.best_top1 = max(self.best_top1, result["top1"])
        if self.dist.is_main:
            atomic_append_line(self.output / "metrics.jsonl", row)
            self.tensorboard.epoch(row)
        self.history.append(row)
        done = step_in_epoch >= self.sampler.steps_per_epoch
        self._save(self._state(epoch + 1 if done else epoch, 0 if done else step_in_epoch), best=best)
        return row

    def fit(self) -> dict[str, Any]:
        """Train to `epochs` (or `max_steps` optimizer steps in total); returns a summary dict."""
        self.tensorboard = TensorBoardLog(None)
        try:
            self.setup()
            if self.config.tensorboard and self.dist.is_main:
                self.tensorboard = TensorBoardLog(self.output / "tensorboard")
            with _StopFlag() as stop:
                return self._fit(stop)
        finally:
            self.tensorboard.close()
            cleanup_distributed()

    def _fit(self, stop: _StopFlag) -> dict[str, Any]:
        c = self.config
        accum = c.accum_steps
        start_epoch, start_step = self.start
        steps_per_epoch = self.sampler.steps_per_epoch
        reason = "finished"
        progress = _progress(c.progress and self.dist.is_main)
        with progress:
            for epoch in range(start_epoch, self.epochs):
                step_in_epoch = start_step if epoch == start_epoch else 0
                if c.max_steps is not None and self.global_step >= c.max_steps:
                    reason = "max_steps"
                    break
                started = time.perf_counter()
                self.sampler.set_position(epoch, step_in_epoch)
                self.train_set.set_epoch(epoch)
                # own generator: creating the iterator must not draw from the global RNG (exact resume)
                loader = DataLoader(self.train_set, batch_size=self.batch_size, sampler=self.sampler,
                                    num_workers=c.workers, pin_memory=self.device.type == "cuda",
                                    generator=torch.Generator().manual_seed(c.seed + epoch))
                task = progress.add_task(f"epoch {epoch + 1}/{self.epochs}", total=steps_per_epoch,
                                         completed=step_in_epoch, info="")
                self._set_train_mode()
                losses: list[float] = []
                seen, running = 0, torch.zeros((), device=self.device)
                train_start = time.perf_counter()
                for micro, (images, targets) in enumerate(loader):
                    images = images.to(self.device, non_blocking=True)
                    targets = targets.to(self.device, non_blocking=True)
                    if self.channels_last:
                        images = images.contiguous(memory_format=torch.channels_last)
                    last_micro = (micro + 1) % accum == 0
                    sync = (self.ddp.no_sync() if self.ddp is not None and not last_micro
                            else contextlib.nullcontext())
                    with sync:
                        loss = self._loss(images, targets) / accum
                        (self.scaler.scale(loss) if self.scaler else loss).backward()
                    running += loss.detach()
                    seen += len(targets) * self.dist.world_size
                    if not last_micro:
                        continue
                    flags = torch.stack([running, torch.tensor(float(stop.signal is not None),
                                                               device=self.device)]).double()
                    all_reduce_sum(flags, self.dist)
                    step_loss = float(flags[0]) / self.dist.world_size
                    running = torch.zeros((), device=self.device)
                    if not math.isfinite(step_loss):
                        kept = self.checkpoint_path if self.checkpoint_path.exists() else "none"
                        raise TrainingDiverged(f"loss became {step_loss} at step {self.global_step + 1} (epoch "
                                               f"{epoch + 1}); stopped. Last good checkpoint: {kept}")
                    self._optimizer_step()
                    self.global_step += 1
                    step_in_epoch += 1
                    losses.append(step_loss)
                    self.step_losses.append(step_loss)
                    self.tensorboard.step(self.global_step, step_loss, self.optimizer.param_groups[0]["lr"])
                    elapsed = time.perf_counter() - train_start
                    progress.update(task, advance=1, info=f"loss {step_loss:.4f} lr "
                                    f"{self.optimizer.param_groups[0]['lr']:.2e} {seen / max(elapsed, 1e-9):.0f} img/s")
                    if float(flags[1]) > 0:
                        self._save(self._state(epoch, step_in_epoch)
                                   if step_in_epoch < steps_per_epoch else self._state(epoch + 1, 0))
                        signame = signal.Signals(stop.signal or signal.SIGTERM).name
                        return {"status": "interrupted", "signal": signame, "global_step": self.global_step,
                                "checkpoint": str(self.checkpoint_path)}
                    if c.max_steps is not None and self.global_step >= c.max_steps:
                        reason = "max_steps"
                        break
                progress.remove_task(task)
                train_seconds = time.perf_counter() - train_start
                self._finish_epoch(epoch, step_in_epoch, losses, seen, train_seconds, started)
                if reason == "max_steps":
                    break
        if self.config.save_pretrained and self.dist.is_main:
            from ..weights import save_pretrained

            ema = self.ema.module if self.ema else None
            for module, folder in ((self.model, "pretrained"), (ema, "pretrained-ema")):
                if module is not None:
                    module.pretrained_cfg = self.eval_preprocessing()
                    save_pretrained(module, self.output / folder)
        barrier(self.dist)
        return {"status": reason, "global_step": self.global_step, "best_top1": self.best_top1,
                "last": self.history[-1] if self.history else None, "output": str(self.output)}

    def _optimizer_step(self) -> None:
        clip = self.recipe.grad_clip
        if self.scaler:
            if clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            if clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update(self.model)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    def remove_task(self, *args: Any) -> None:
        return None


def _progress(show: bool):
    """A rich progress bar (loss, lr, images/s) on stderr, or a no-op."""
    if not show:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=True)


def train(config: TrainConfig) -> dict[str, Any]:
    """Python API equivalent of `effnet train`."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return Trainer(config).fit()


__all__ = ["TrainConfig", "Trainer", "TrainingDiverged", "default_channels_last", "train"]
