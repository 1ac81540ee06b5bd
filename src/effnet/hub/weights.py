"""Checkpoint files: safe reading of any checkpoint into a flat state dict, and the Hugging Face-style
`save_pretrained` / `from_pretrained` directory (config.json + model.safetensors). Which library named the tensors
is `effnet.hub.adapters`' job; fitting them onto a model is `effnet.hub.weight_loading`'s.

Nothing here unpickles arbitrary objects: `.pth/.pt/.bin` files go through `torch.load(weights_only=True)`,
which refuses any pickle that would construct objects other than tensors and plain containers."""

from __future__ import annotations

import json
import math
import pickle
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..architecture.spec import NetSpec
from ..architecture.zoo.registry import SPEC_FILE_LIMIT, stored_training, training_defaults
from ..errors import WeightsError
from ..model.card import card_of
from ..model.preprocessing import Preprocessing
from ..outputs import atomic_path, check_output
from .weight_checks import state_problem

_WRAPPERS = ("state_dict", "model", "model_state_dict", "module")
_PREFIXES = ("module.", "_orig_mod.", "model.")
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


def _is_safetensors(path: Path) -> bool:
    """safetensors files start with an 8-byte header length and then the JSON header itself."""
    with path.open("rb") as handle:
        start = handle.read(9)
    return len(start) == 9 and start[8:9] == b"{"


def read_checkpoint(path: str | Path) -> Any:
    """The raw content of a checkpoint file (safetensors or a `torch.save` file read with `weights_only=True`),
    without executing any code from it; a one-line `WeightsError` for anything that is not a checkpoint."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_NAME
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path} is empty, not a checkpoint")
    if _is_safetensors(path):
        try:
            return load_file(str(path), device="cpu")
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise WeightsError(f"corrupt or truncated safetensors file {path}: {error}") from None
    with path.open("rb") as handle:
        start = handle.read(4)
    if not (start.startswith(b"PK\x03\x04") or start.startswith(b"\x80")):  # torch.save's zip or legacy pickle
        raise WeightsError(f"{path} is not a checkpoint (neither safetensors nor a torch.save file)")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols on its way to refusing a file
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error).strip()
        if "weights only" in text.lower() or "weights_only" in text.lower():
            first = next((line for line in text.splitlines() if "GLOBAL" in line or "Unsupported" in line),
                         text.splitlines()[0])
            raise WeightsError(f"refusing to load {path}: it holds Python objects that could run code when "
                               f"unpickled ({first.strip()[:160]}); only tensors are accepted") from None
        raise WeightsError(f"{path} is not a checkpoint (neither safetensors nor a torch.save file)") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, MemoryError, OverflowError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        first = first.split(". ")[0][:120]
        raise WeightsError(f"corrupt or truncated checkpoint {path} (or not a checkpoint at all: {first})") from None


def safe_load(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a checkpoint file into a flat {name: tensor} dict without executing any code from it."""
    return state_dict_of(read_checkpoint(path), source=str(path))


def state_dict_of(obj: Any, source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Unwrap common training-checkpoint layouts ({'state_dict': ...}, {'model': ...}) and DDP prefixes."""
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{source} is not a state dict (found {type(obj).__name__})")
    for key in _WRAPPERS:
        if key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
            break
    state: dict[str, torch.Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise WeightsError(f"{source} is not a state dict (a key is a {type(key).__name__})")
        if not isinstance(value, torch.Tensor):
            raise WeightsError(f"{source}: entry {key!r} is a {type(value).__name__}, not a tensor")
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix):]
                break
        state[key] = value
    if not state:
        raise WeightsError(f"{source} holds no tensors")
    return state


def _atomic_write(path: Path, write: Any) -> None:
    """Write via a temp file in the same directory, then rename: a crash never leaves a half file."""
    with atomic_path(path) as temp:
        write(str(temp))


def in_channels(model: nn.Module) -> int:
    """Input channels of a model (its first convolution's)."""
    return next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)


def save_pretrained(model: nn.Module, directory: str | Path, *, overwrite: bool = False,
                    inputs: Sequence[str | Path | None] = ()) -> Path:
    """Write `config.json` (spec, class count, preprocessing, origin of the weights, training defaults) and
    `model.safetensors`.

    Each file is written atomically. An existing model folder is replaced only with `overwrite`; a folder that
    is one of `inputs` (where the model was loaded from) is refused."""
    spec: NetSpec | None = getattr(model, "spec", None)
    if spec is None or not hasattr(model, "preprocessing"):
        raise WeightsError("save_pretrained needs an effnet model (one with a .spec)")
    problem = state_problem(model)
    if problem:
        raise WeightsError(f"refusing to save a model that cannot be used: {problem}")
    directory = check_output(directory, inputs=inputs, overwrite=overwrite, directory=True)
    directory.mkdir(parents=True, exist_ok=True)
    card = card_of(model)
    training = card.training if card is not None and card.training is not None else training_defaults(spec)
    config = {"effnet_format": 3, "spec": spec.to_dict(), "num_classes": int(getattr(model, "num_classes", 0)),
              "in_chans": in_channels(model), "preprocessing": model.preprocessing.to_dict(),
              "weights_origin": dict(getattr(model, "weights_origin", {}) or {}), "training": training.to_dict()}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_NAME, lambda temp: save_file(tensors, temp, metadata={"format": "pt"}))
    _atomic_write(directory / CONFIG_NAME, lambda temp: Path(temp).write_text(json.dumps(config, indent=2)))
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """The parsed `config.json` of a `save_pretrained` directory: {"spec": NetSpec, "num_classes", "in_chans",
    "preprocessing": Preprocessing, "weights_origin", "training": TrainingDefaults}; one-line errors for missing,
    corrupt or absurd files. A config written before "training" existed (format 2) held them in its spec."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise WeightsError(f"{directory} is not an effnet model directory: {CONFIG_NAME} not found")
    if path.stat().st_size > SPEC_FILE_LIMIT:
        raise WeightsError(f"corrupt {path}: {path.stat().st_size:,} bytes is too large for a model config")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise TypeError(f"expected a JSON object, found {type(config).__name__}")
        spec = NetSpec.from_dict(config["spec"])
        training = stored_training(spec, config.get("training"), config["spec"])
        num_classes, in_chans = config.get("num_classes", 1000), config.get("in_chans", 3)
        for name, value in (("num_classes", num_classes), ("in_chans", in_chans)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise TypeError(f"{name} must be a non-negative integer, got {value!r}")
        cfg = config.get("preprocessing") or config.get("pretrained_cfg") or {}
        preprocessing = (Preprocessing.from_dict(cfg) if cfg.get("input_size") is not None
                         else Preprocessing.for_resolution(spec.resolution))
        origin = config.get("weights_origin") or {k: cfg[k] for k in ("model", "tag", "origin") if k in cfg}
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError,
            RecursionError) as error:
        raise WeightsError(f"corrupt {path}: {str(error).splitlines()[0] if str(error) else error!r}") from None
    return {"spec": spec, "num_classes": num_classes, "in_chans": in_chans, "preprocessing": preprocessing,
            "weights_origin": dict(origin) if isinstance(origin, dict) else {}, "training": training}


def stored_elements(path: str | Path) -> int:
    """How many numbers a safetensors file holds, read from its header alone (nothing is loaded)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"corrupt or truncated safetensors file {path}: {error}") from None
