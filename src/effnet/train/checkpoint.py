"""Trainer checkpoints: plain dicts of tensors and numbers written atomically, read with weights_only=True."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..atomic import atomic_path
from ..errors import WeightsError

FORMAT = "effnet-trainer-1"


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temp file in the same folder, then rename over `path` (never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".tmp") as temp:
        torch.save(obj, temp)


def atomic_append_line(path: Path, row: dict[str, Any]) -> None:
    """Append one JSON line by rewriting the file through a temp file + rename."""
    old = path.read_text() if path.exists() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    with atomic_path(path, suffix=".tmp") as temp:
        temp.write_text(old + json.dumps(row) + "\n")


def rng_state() -> dict[str, Any]:
    """Every RNG the training step touches, as tensors/plain values (weights_only-safe)."""
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), *np_state[2:]]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    version, *rest = state["python"]
    random.setstate((version, tuple(rest[0]), *rest[1:]) if isinstance(rest[0], list) else state["python"])
    name, keys, *others = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), *others))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a trainer checkpoint safely (no arbitrary unpickling)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise WeightsError(f"{path} is not an effnet trainer checkpoint")
    return data


def is_trainer_checkpoint(path: str | Path) -> bool:
    """True for a file written by the trainer (checked by reading it safely)."""
    path = Path(path)
    if not path.is_file() or path.suffix not in (".pt", ".pth"):
        return False
    try:
        load_checkpoint(path)
    except WeightsError:
        return False
    return True
