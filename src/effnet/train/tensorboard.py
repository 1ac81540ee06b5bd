"""Optional TensorBoard logging of a run: per-step loss and lr, per-epoch metrics (what metrics.jsonl holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError


class TensorBoardLog:
    """Scalars under `OUTPUT/tensorboard`, written by the main rank only; a no-op when disabled."""

    def __init__(self, directory: Path | None) -> None:
        self.writer = None
        if directory is None:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise InputError("TensorBoard logging needs the tensorboard package: pip install 'effnet[tensorboard]'") \
                from None
        self.writer = SummaryWriter(log_dir=str(directory))

    def step(self, global_step: int, loss: float, lr: float) -> None:
        if self.writer is not None:
            self.writer.add_scalar("train/loss", loss, global_step)
            self.writer.add_scalar("train/lr", lr, global_step)

    def epoch(self, row: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key, value in row.items():
            if key not in ("epoch", "step", "partial") and isinstance(value, (int, float)) and value is not None:
                group = "val" if key.startswith(("val_", "ema_")) else "epoch"
                self.writer.add_scalar(f"{group}/{key}", value, row["step"])
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


__all__ = ["TensorBoardLog"]
