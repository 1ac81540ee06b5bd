"""The trainer's step and epoch loop: one process or torchrun/DDP, AMP on GPU, gradient accumulation, EMA,
validation every epoch, checkpoints at epoch ends and on SIGINT/SIGTERM, and the final `save_pretrained`.

Configuration and its checks are in `train.config`, the run folder and checkpoints in `train.state`."""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.utils.data import DataLoader

from ..architecture.profiling import images_per_batch
from ..architecture.training_defaults import TRAINING_FIELDS
from ..data import mixup
from ..errors import InputError, WeightsError
from ..hub.loader import load_model
from ..hub.weight_checks import state_problem
from ..hub.weights import in_channels, save_pretrained
from ..model.build import zero_init_residuals
from ..model.card import with_card
from ..outputs import format_duration, run_lock
from .config import (
    TrainConfig,
    TrainingDiverged,
    amp_dtype,
    check_options,
    default_channels_last,
    default_threads,
    resolve_device,
)
from .datasets import RunData
from .distributed import (
    ResumableSampler,
    ShardSampler,
    all_reduce_sum,
    barrier,
    cleanup_distributed,
    epoch_seed,
    init_distributed,
)
from .ema import ModelEma
from .evaluate import evaluate
from .optim import build_optimizer, build_scheduler
from .state import EpochSoFar, RunFolder, make_checkpoint, restore_checkpoint, rng_state, set_rng_state, signature
from .state import Progress as RunProgress
from .tensorboard import TensorBoardLog


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

    `step_losses` holds the (rank-averaged) loss of every optimizer step taken by this process; `history` the
    epoch rows of the whole run (also those before a resume), `curve` every validation point (epoch ends and the
    `val_points` spread over the run). With a held-out validation split the test split is scored once, after the
    last step, into the last row (`test_top1`, ...; `test_weights` says whether the model's or the EMA's weights were
    scored: those with the better validation top-1)."""

    def __init__(self, config: TrainConfig, on_validate: Callable[[dict[str, Any]], None] | None = None) -> None:
        check_options(config)
        self.on_validate = on_validate  # called with each validation point once it is kept (may raise to stop)
        self.config, self.recipe = config, config.recipe
        self.folder = RunFolder(config.output)
        self.output = self.folder.path
        self.device = resolve_device(config.device)
        self.amp_dtype = amp_dtype(config.amp, self.device)
        if config.sync_bn and self.device.type != "cuda":
            raise InputError("synchronised BatchNorm needs CUDA devices (PyTorch's SyncBatchNorm has no CPU kernel)")
        self.channels_last = (default_channels_last(self.device) if config.channels_last is None
                              else config.channels_last)
        self.epochs = config.epochs or self.recipe.epochs
        self.batch_size = config.batch_size or self.recipe.batch_size
        self.checkpoint_path = self.folder.last
        self.step_losses: list[float] = []
        self._held = contextlib.ExitStack()  # what the run holds while it writes (its folder's lock)
        self.resume_from: Path | None = self.folder.resume_point(config.resume, config.overwrite)

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.progress.history

    @property
    def curve(self) -> list[dict[str, Any]]:
        return self.progress.curve

    # ----- setup -------------------------------------------------------------------------------------
    def _model(self, num_classes: int) -> nn.Module:
        """The model, loaded once through the one loader: the spec is resolved here and nowhere else. The recipe's
        dropout, drop path and BatchNorm momentum build it; one left None is the model's own (`card.training`)."""
        c, r = self.config, self.recipe
        options = {key: getattr(r, key) for key in TRAINING_FIELDS}
        options.update(c.model_options)  # what the user gave wins over the recipe
        finetune = bool(c.pretrained or c.weights)
        model = load_model(c.model, pretrained=bool(c.pretrained), weights=c.weights, num_classes=num_classes,
                           reset_head=finetune, **options)
        if r.zero_init_residual and not finetune and not self.resume_from:
            zero_init_residuals(model)  # from scratch only: pretrained weights are never altered
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

    def setup(self) -> None:
        c = self.config
        self.dist = init_distributed(str(self.device))
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        torch.manual_seed(c.seed)
        data = RunData(c.data, c.data_dir, limit_train=c.limit_train, limit_val=c.limit_val,
                       on_bad_image=c.on_bad_image, val_split=c.val_split, limit_test=c.limit_test)
        self.classes = data.classes
        num_classes = c.num_classes or len(self.classes)
        if num_classes < len(self.classes):
            raise InputError(f"labels out of range: the data has {len(self.classes)} classes but num-classes is "
                             f"{num_classes}")
        model = self._model(num_classes)
        # How this run validates, saved with every checkpoint and the final model: the weights' normalisation
        # (Lite0's (x - 127) / 128 when fine-tuning it), the spec's resolution, the recipe's crop, the classes.
        card = model.card
        self.preprocessing = card.preprocessing.replace(
            input_size=model.spec.resolution, crop_pct=self.recipe.crop_fraction, interpolation="bilinear",
            labels=tuple(self.classes))
        with_card(model, card.replace(preprocessing=self.preprocessing))  # the EMA copy and saved folders keep it
        self.threads = c.threads or default_threads(self.device, self.preprocessing.input_size)
        torch.set_num_threads(self.threads)
        self.train_set, self.val_set, self.test_set = data.splits(self.preprocessing, self.recipe.augmentation,
                                                                  c.seed)
        self.model = model.to(self.device)
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
        if images_per_batch(self.model.spec, self.preprocessing.input_size, self.batch_size) < self.batch_size:
            raise InputError(f"a batch of {self.batch_size} images of {self.preprocessing.input_size} px is beyond the "
                             "supported activation memory for this model; use a smaller --batch-size (and "
                             "--accum-steps for the same global batch)")
        self.sampler = ResumableSampler(len(self.train_set), self.batch_size, c.accum_steps, self.dist, c.seed)
        self.global_batch = self.sampler.global_batch
        if self.sampler.steps_per_epoch < 1:
            raise InputError(f"global batch {self.global_batch} is larger than the training set "
                             f"({len(self.train_set)} images)")
        self.optimizer = build_optimizer(self.model, self.recipe, self.global_batch)
        self.scheduler = build_scheduler(self.optimizer, self.recipe, self.sampler.steps_per_epoch, self.epochs)
        self.val_steps = validation_steps(self.sampler.steps_per_epoch * self.epochs, c.val_points, c.max_steps)
        self.scaler = torch.amp.GradScaler("cuda") if self.amp_dtype == torch.float16 else None
        self.signature = signature(c.model if isinstance(c.model, str) else self.model.spec.name, self.model.spec,
                                   self.model.num_classes, self.model.card.training)
        self.progress = RunProgress()
        if self.resume_from:
            self._restore(self.resume_from)
            if self.dist.is_main:  # drop rows a killed run wrote after this checkpoint, restore any it lost
                self.folder.write_metrics(self.progress.history)
        self.val_loader = self._eval_loader(self.val_set)
        self.test_loader = self._eval_loader(self.test_set) if self.test_set is not None else None
        if self.dist.is_main:  # every check passed: one run writes a folder at a time (a second one is refused)
            self._held.enter_context(run_lock(self.output))

    def _eval_loader(self, dataset: Any) -> DataLoader:
        return DataLoader(dataset, batch_size=self.batch_size, num_workers=self.config.workers,
                          sampler=ShardSampler(len(dataset), self.dist), pin_memory=self.device.type == "cuda",
                          generator=torch.Generator())

    def _restore(self, path: Path) -> None:
        """Continue from a checkpoint; one that does not fit this run (hand-edited or crafted: missing keys, wrong
        shapes or types, other optimizer groups) is one line naming what is wrong, before any training."""
        try:
            self.progress, rngs = restore_checkpoint(
                path, metrics=self.folder.metrics, sig=self.signature, global_batch=self.global_batch,
                model=self.model, ema=self.ema, optimizer=self.optimizer, scheduler=self.scheduler,
                scaler=self.scaler)
            if "torch_ranks" in rngs and len(rngs["torch_ranks"]) == self.dist.world_size:
                rngs = {**rngs, "torch": rngs["torch_ranks"][self.dist.rank]}
            set_rng_state(rngs)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, AttributeError) as error:
            if isinstance(error, (InputError, WeightsError)):
                raise
            detail = " ".join(str(error).split())[:200] or type(error).__name__
            raise WeightsError(f"cannot resume from {path}: it does not fit this run ({type(error).__name__}: "
                               f"{detail})") from None

    # ----- checkpoints -------------------------------------------------------------------------------
    def _checkpoint(self) -> dict[str, Any]:
        rngs = rng_state()
        if self.dist.enabled:  # every rank's torch RNG (dropout / drop-path masks differ per rank)
            gathered = [torch.empty_like(rngs["torch"]) for _ in range(self.dist.world_size)]
            torch.distributed.all_gather(gathered, rngs["torch"])
            rngs["torch_ranks"] = gathered
        return make_checkpoint(sig=self.signature, model=self.model, ema=self.ema, optimizer=self.optimizer,
                               scheduler=self.scheduler, scaler=self.scaler, progress=self.progress,
                               global_batch=self.global_batch, rngs=rngs, recipe=self.recipe.to_dict(),
                               classes=self.classes, preprocessing=self.preprocessing,
                               in_chans=in_channels(self.model))

    def _save(self, epoch: int, step_in_epoch: int, best: bool = False) -> None:
        self.progress.epoch, self.progress.step_in_epoch = epoch, step_in_epoch
        state = self._checkpoint()
        if self.dist.is_main:
            self.folder.save(state, best)
        barrier(self.dist)

    # ----- training ----------------------------------------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _loss(self, images: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        r = self.recipe
        if r.augmentation.mixup_alpha > 0:
            images, soft = mixup(images, targets, len(self.classes), r.augmentation.mixup_alpha, r.label_smoothing)
            with self._autocast():
                logits = self.net(images)
            return F.cross_entropy(logits.float(), soft)
        with self._autocast():
            logits = self.net(images)
        return F.cross_entropy(logits.float(), targets, label_smoothing=r.label_smoothing)

    def _eval_options(self) -> dict[str, Any]:
        return {"num_classes": len(self.classes), "device": self.device, "info": self.dist,
                "amp_dtype": self.amp_dtype, "channels_last": self.channels_last, "classes": self.classes}

    def _validate(self) -> dict[str, Any]:
        """The model's (and its EMA's) scores on the validation split."""
        result = evaluate(self.model, self.val_loader, **self._eval_options())
        if self.ema is not None:
            result["ema"] = evaluate(self.ema.module, self.val_loader, **self._eval_options())
        return result

    def _keep_point(self, epoch: float, result: dict[str, Any]) -> dict[str, Any]:
        """One point of the learning curve (validation split), kept with the run and shown to `on_validate`."""
        point = {"step": self.progress.global_step, "epoch": round(epoch, 4), "val_top1": result["top1"],
                 "val_top5": result["top5"], "val_loss": result["loss"],
                 "ema_top1": result["ema"]["top1"] if "ema" in result else None}
        point = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
                 for key, value in point.items()}
        self.progress.curve.append(point)
        return point

    def _validate_within_epoch(self, epoch: int, step_in_epoch: int) -> None:
        point = self._keep_point(epoch + step_in_epoch / self.sampler.steps_per_epoch, self._validate())
        if self.on_validate is not None and self.dist.is_main:
            self.on_validate(point)

    def _check_state(self, epoch: int) -> None:
        """Stop a run whose weights, BatchNorm statistics or EMA became unusable before anything is saved from it:
        one line, and the last good checkpoint stays as it was."""
        for what, module in (("the model", self.model), ("its EMA", self.ema.module if self.ema else None)):
            problem = state_problem(module) if module is not None else None
            if problem:
                kept = self.checkpoint_path if self.checkpoint_path.exists() else "none"
                raise TrainingDiverged(f"training diverged in epoch {epoch + 1}: {what}'s {problem}; stopped. Last "
                                       f"good checkpoint: {kept}")

    def _finish_epoch(self, epoch: int, step_in_epoch: int, whole: EpochSoFar, started: float,
                      final: bool) -> dict[str, Any]:
        """Validate (and at the end test), append the epoch's row and checkpoint; `whole`: the epoch's training,
        including any part before a resume."""
        self._check_state(epoch)
        validate = final or self.config.validate == "every" or self.progress.global_step in self.val_steps
        result = self._validate() if validate else None
        row = {"epoch": epoch + 1, "step": self.progress.global_step,
               "train_loss": whole.loss_sum / whole.steps if whole.steps else None,
               "val_loss": result["loss"] if result else None, "val_top1": result["top1"] if result else None,
               "val_top5": result["top5"] if result else None,
               "ema_top1": result["ema"]["top1"] if result and "ema" in result else None,
               "lr": self.optimizer.param_groups[0]["lr"],
               "images_per_s": whole.images / whole.train_seconds if whole.train_seconds > 0 else None,
               "train_seconds": whole.train_seconds, "seconds": time.perf_counter() - started}
        row = {key: (None if isinstance(value, float) and not math.isfinite(value) else value)
               for key, value in row.items()}
        if step_in_epoch < self.sampler.steps_per_epoch:
            row["partial"] = True
        point = None
        if result is not None:
            point = self._keep_point(epoch + step_in_epoch / self.sampler.steps_per_epoch, result)
        if final and self.test_loader is not None:  # the test split, scored once: never used for a choice
            weights = scored_weights(result)
            module = self.ema.module if weights == "ema" else self.model
            test = evaluate(module, self.test_loader, **self._eval_options())
            row.update(test_top1=test["top1"], test_top5=test["top5"], test_loss=test["loss"], test_weights=weights)
        if result is not None and not math.isfinite(result["loss"]):
            kept = self.checkpoint_path if self.checkpoint_path.exists() else "none"
            raise TrainingDiverged(f"training diverged in epoch {epoch + 1}: the validation loss is {result['loss']}; "
                                   f"stopped. Last good checkpoint: {kept}")
        best = result is not None and result["top1"] > self.progress.best_top1
        if result is not None:
            self.progress.best_top1 = max(self.progress.best_top1, result["top1"])
        self.progress.history.append(row)
        if self.dist.is_main:
            self.tensorboard.epoch(row)
        done = step_in_epoch >= self.sampler.steps_per_epoch
        self._save(epoch + 1 if done else epoch, 0 if done else step_in_epoch, best=best)
        if self.on_validate is not None and self.dist.is_main and point is not None:
            self.on_validate(point)
        if getattr(self, "_log_lines", False):
            print(self._epoch_line(row), file=sys.stderr, flush=True)
        return row

    def _epoch_line(self, row: dict[str, Any]) -> str:
        """One epoch in one line for a log: steps, loss, validation, images/s and the time left -- to the end of
        the schedule or to `max_steps`, whichever comes first."""
        total = self.sampler.steps_per_epoch * self.epochs
        if self.config.max_steps is not None:
            total = min(total, self.config.max_steps)
        done = self.progress.global_step
        elapsed = time.perf_counter() - self._run_started
        rate = (done - self._first_step) / elapsed if elapsed > 0 else 0.0
        eta = format_duration((total - done) / rate) if rate > 0 and total > done else "0s"
        parts = [f"epoch {row['epoch']}/{self.epochs}", f"step {done}/{total}"]
        if row.get("train_loss") is not None:
            parts.append(f"loss {row['train_loss']:.4f}")
        if row.get("val_top1") is not None:
            parts.append(f"val top-1 {row['val_top1']:.2f}%")
        if row.get("images_per_s"):
            parts.append(f"{row['images_per_s']:.0f} img/s")
        return "effnet: " + ", ".join(parts) + f", ETA {eta}"

    def fit(self) -> dict[str, Any]:
        """Train to `epochs` (or `max_steps` optimizer steps in total); returns a summary dict."""
        self.tensorboard = TensorBoardLog(None)
        previous_threads = torch.get_num_threads()
        try:
            self.setup()
            if self.config.tensorboard and self.dist.is_main:
                self.tensorboard = TensorBoardLog(self.output / "tensorboard")
            with _StopFlag() as stop:
                return self._fit(stop)
        finally:
            self.tensorboard.close()
            self._held.close()
            torch.set_num_threads(previous_threads)  # the caller's setting, as it was
            cleanup_distributed()

    def _fit(self, stop: _StopFlag) -> dict[str, Any]:
        c = self.config
        accum = c.accum_steps
        start_epoch, start_step = self.progress.epoch, self.progress.step_in_epoch
        steps_per_epoch = self.sampler.steps_per_epoch
        reason = "finished"
        show = c.progress and self.dist.is_main
        progress = _progress(show and sys.stderr.isatty())
        self._log_lines = show and not sys.stderr.isatty()  # a line per epoch instead (a pipe, a log file)
        self._run_started, self._first_step = time.perf_counter(), self.progress.global_step
        with progress:
            for epoch in range(start_epoch, self.epochs):
                step_in_epoch = start_step if epoch == start_epoch else 0
                before = self.progress.epoch_so_far if step_in_epoch > 0 else EpochSoFar()  # before a resume
                if c.max_steps is not None and self.progress.global_step >= c.max_steps:
                    reason = "max_steps"
                    break
                started = time.perf_counter() - before.train_seconds  # the epoch's wall time spans a resume
                self.sampler.set_position(epoch, step_in_epoch)
                self.train_set.set_epoch(epoch)
                # own generator: creating the iterator must not draw from the global RNG (exact resume)
                loader = DataLoader(self.train_set, batch_size=self.batch_size, sampler=self.sampler,
                                    num_workers=c.workers, pin_memory=self.device.type == "cuda",
                                    generator=torch.Generator().manual_seed(epoch_seed(c.seed, epoch)))
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
                        raise TrainingDiverged(f"training diverged in epoch {epoch + 1}: the loss became {step_loss} "
                                               f"at step {self.progress.global_step + 1}; stopped. Last good "
                                               f"checkpoint: {kept}")
                    self._optimizer_step()
                    self.progress.global_step += 1
                    step_in_epoch += 1
                    losses.append(step_loss)
                    self.step_losses.append(step_loss)
                    lr = self.optimizer.param_groups[0]["lr"]
                    self.tensorboard.step(self.progress.global_step, step_loss, lr)
                    elapsed = time.perf_counter() - train_start
                    progress.update(task, advance=1,
                                    info=f"loss {step_loss:.4f} lr {lr:.2e} {seen / max(elapsed, 1e-9):.0f} img/s")
                    ends_run = c.max_steps is not None and self.progress.global_step >= c.max_steps
                    if self.progress.global_step in self.val_steps and step_in_epoch < steps_per_epoch \
                            and not ends_run:
                        self._validate_within_epoch(epoch, step_in_epoch)
                        self._set_train_mode()
                    if float(flags[1]) > 0:  # the epoch (even one whose last step this was) finishes on resume
                        self.progress.epoch_so_far = before.plus(time.perf_counter() - train_start, seen, losses)
                        self._save(epoch, step_in_epoch)
                        signame = signal.Signals(stop.signal or signal.SIGTERM).name
                        return {"status": "interrupted", "signal": signame, "global_step": self.progress.global_step,
                                "checkpoint": str(self.checkpoint_path)}
                    if c.max_steps is not None and self.progress.global_step >= c.max_steps:
                        reason = "max_steps"
                        break
                progress.remove_task(task)
                whole = before.plus(time.perf_counter() - train_start, seen, losses)
                self.progress.epoch_so_far = EpochSoFar()
                final = reason == "max_steps" or epoch + 1 >= self.epochs or (
                    c.max_steps is not None and self.progress.global_step >= c.max_steps)
                self._finish_epoch(epoch, step_in_epoch, whole, started, final)
                if reason == "max_steps":
                    break
        if self.config.save_pretrained and self.dist.is_main:
            ema = self.ema.module if self.ema else None
            for module, folder in ((self.model, "pretrained"), (ema, "pretrained-ema")):
                if module is not None:
                    save_pretrained(module, self.output / folder, overwrite=True)
        barrier(self.dist)
        return {"status": reason, "global_step": self.progress.global_step, "best_top1": self.progress.best_top1,
                "threads": self.threads,
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


def scored_weights(result: dict[str, Any] | None) -> str:
    """Which weights the test split scores: the EMA's when they beat the model's on the validation split, else the
    model's (a choice made on validation, so the test split is still scored once and chooses nothing)."""
    ema = (result or {}).get("ema")
    return "ema" if ema is not None and ema["top1"] > result["top1"] else "model"


def validation_steps(total: int, points: int, max_steps: int | None = None) -> frozenset[int]:
    """The optimizer steps after which a run with `points` curve points validates: evenly spread, the last at the
    end of the run (`max_steps` when it ends the run earlier)."""
    end = min(total, max_steps) if max_steps else total
    if points < 1 or end < 1:
        return frozenset()
    return frozenset(max(1, round(end * k / points)) for k in range(1, points + 1))


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


def _progress(show: bool) -> Progress | _NoProgress:
    """A rich progress bar (loss, lr, images/s) on stderr, or a no-op."""
    if not show:
        return _NoProgress()
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=True)


def train(config: TrainConfig) -> dict[str, Any]:
    """Python API equivalent of `effnet train`."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        return Trainer(config).fit()


__all__ = ["Trainer", "scored_weights", "train", "validation_steps"]
