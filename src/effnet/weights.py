"""Checkpoints: safe loading, naming conversion (timm / torchvision / efficientnet_pytorch / effnet) and the
Hugging Face-style `save_pretrained` / `from_pretrained` directory (config.json + model.safetensors).

Nothing here unpickles arbitrary objects: `.pth/.pt/.bin` files go through `torch.load(weights_only=True)`,
which refuses any pickle that would construct objects other than tensors and plain containers."""

from __future__ import annotations

import json
import math
import pickle
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from .build import zero_classifier
from .errors import WeightsError
from .layers import ConvBNAct, MBConv, SqueezeExcite
from .outputs import atomic_path, check_output
from .preprocessing import Preprocessing
from .spec import NetSpec
from .zoo.registry import SPEC_FILE_LIMIT

FORMATS = ("effnet", "timm", "torchvision", "efficientnet_pytorch")
_WRAPPERS = ("state_dict", "model", "model_state_dict", "module")
_PREFIXES = ("module.", "_orig_mod.", "model.")
_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


@dataclass
class LoadReport:
    """What `load_weights` did: detected naming, keys it could not use, and whether the head was reset."""

    format: str
    loaded: int
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    head_reset: bool = False


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


def detect_format(state: Mapping[str, torch.Tensor]) -> str:
    """Which library's naming a state dict uses, from its stem keys."""
    markers = {"stem.conv.weight": "effnet", "conv_stem.weight": "timm", "features.0.0.weight": "torchvision",
               "_conv_stem.weight": "efficientnet_pytorch"}
    for key, name in markers.items():
        if key in state:
            return name
    if any(key.startswith(("stem.", "stages.")) for key in state):
        return "effnet"
    sample = ", ".join(list(state)[:3])
    raise WeightsError(f"unrecognised checkpoint layout (first keys: {sample}); expected effnet, timm, "
                       "torchvision or efficientnet_pytorch naming")


def _conv_bn(ours: str, conv: str, bn: str) -> Iterator[tuple[str, str]]:
    yield f"{ours}.conv.weight", f"{conv}.weight"
    for key in _BN_KEYS:
        yield f"{ours}.bn.{key}", f"{bn}.{key}"


def _se(ours: str, reduce: str, expand: str) -> Iterator[tuple[str, str]]:
    for key in ("weight", "bias"):
        yield f"{ours}.reduce.{key}", f"{reduce}.{key}"
        yield f"{ours}.expand.{key}", f"{expand}.{key}"


def _efficientnet_blocks(model: nn.Module) -> list[tuple[int, int, MBConv]]:
    """(stage, index, block) for every block, or an error if the model is not MBConv-shaped."""
    blocks = []
    for i, stage in enumerate(model.stages):
        for j, block in enumerate(stage):
            if not isinstance(block, MBConv):
                raise WeightsError("timm/torchvision/efficientnet_pytorch checkpoints can only be mapped onto "
                                   f"EfficientNet-style models; block stages.{i}.{j} is {type(block).__name__}")
            blocks.append((i, j, block))
    if not isinstance(model.stem, ConvBNAct) or not isinstance(model.head, ConvBNAct):
        raise WeightsError("this model's stem/head do not match the EfficientNet layout of foreign checkpoints")
    return blocks


def foreign_names(model: nn.Module, fmt: str) -> dict[str, str]:
    """{effnet key: key in `fmt`'s naming} for an EfficientNet-style effnet model."""
    blocks = _efficientnet_blocks(model)
    pairs: list[tuple[str, str]] = []
    n_stages = len(model.stages)
    if fmt == "timm":
        pairs += _conv_bn("stem", "conv_stem", "bn1")
        for i, j, block in blocks:
            ours, theirs = f"stages.{i}.{j}", f"blocks.{i}.{j}"
            if isinstance(block.expand, ConvBNAct):
                pairs += _conv_bn(f"{ours}.expand", f"{theirs}.conv_pw", f"{theirs}.bn1")
                pairs += _conv_bn(f"{ours}.dw", f"{theirs}.conv_dw", f"{theirs}.bn2")
                pairs += _conv_bn(f"{ours}.project", f"{theirs}.conv_pwl", f"{theirs}.bn3")
            else:
                pairs += _conv_bn(f"{ours}.dw", f"{theirs}.conv_dw", f"{theirs}.bn1")
                pairs += _conv_bn(f"{ours}.project", f"{theirs}.conv_pw", f"{theirs}.bn2")
            if isinstance(block.se, SqueezeExcite):
                pairs += _se(f"{ours}.se", f"{theirs}.se.conv_reduce", f"{theirs}.se.conv_expand")
        pairs += _conv_bn("head", "conv_head", "bn2")
        classifier = "classifier"
    elif fmt == "torchvision":
        pairs += _conv_bn("stem", "features.0.0", "features.0.1")
        for i, j, block in blocks:
            ours, theirs = f"stages.{i}.{j}", f"features.{i + 1}.{j}.block"
            k = 0
            if isinstance(block.expand, ConvBNAct):
                pairs += _conv_bn(f"{ours}.expand", f"{theirs}.0.0", f"{theirs}.0.1")
                k = 1
            pairs += _conv_bn(f"{ours}.dw", f"{theirs}.{k}.0", f"{theirs}.{k}.1")
            if isinstance(block.se, SqueezeExcite):
                k += 1
                pairs += _se(f"{ours}.se", f"{theirs}.{k}.fc1", f"{theirs}.{k}.fc2")
            pairs += _conv_bn(f"{ours}.project", f"{theirs}.{k + 1}.0", f"{theirs}.{k + 1}.1")
        pairs += _conv_bn("head", f"features.{n_stages + 1}.0", f"features.{n_stages + 1}.1")
        classifier = "classifier.1"
    elif fmt == "efficientnet_pytorch":
        pairs += _conv_bn("stem", "_conv_stem", "_bn0")
        for g, (i, j, block) in enumerate(blocks):
            ours, theirs = f"stages.{i}.{j}", f"_blocks.{g}"
            if isinstance(block.expand, ConvBNAct):
                pairs += _conv_bn(f"{ours}.expand", f"{theirs}._expand_conv", f"{theirs}._bn0")
            pairs += _conv_bn(f"{ours}.dw", f"{theirs}._depthwise_conv", f"{theirs}._bn1")
            if isinstance(block.se, SqueezeExcite):
                pairs += _se(f"{ours}.se", f"{theirs}._se_reduce", f"{theirs}._se_expand")
            pairs += _conv_bn(f"{ours}.project", f"{theirs}._project_conv", f"{theirs}._bn2")
        pairs += _conv_bn("head", "_conv_head", "_bn1")
        classifier = "_fc"
    else:
        raise WeightsError(f"unknown checkpoint format {fmt!r}; known: {', '.join(FORMATS)}")
    pairs += [("classifier.weight", f"{classifier}.weight"), ("classifier.bias", f"{classifier}.bias")]
    return dict(pairs)


def to_effnet_names(model: nn.Module, state: Mapping[str, torch.Tensor], fmt: str | None = None
                    ) -> tuple[dict[str, torch.Tensor], list[str], list[str]]:
    """Rename a foreign state dict for `model`; returns (renamed, missing effnet keys, unused foreign keys)."""
    fmt = fmt or detect_format(state)
    if fmt == "effnet":
        return dict(state), [], []
    names = foreign_names(model, fmt)
    renamed = {ours: state[theirs] for ours, theirs in names.items() if theirs in state}
    missing = [ours for ours, theirs in names.items() if theirs not in state]
    used = set(names.values())
    unused = [key for key in state if key not in used]
    return renamed, missing, unused


def check_values(state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor], origin: str) -> None:
    """Every tensor meant for a floating-point parameter or buffer must be floating-point and finite, and a
    BatchNorm's running variance must not be negative (it is a variance: a negative one gives NaN outputs)."""
    for key, value in state.items():
        if not own[key].is_floating_point():
            continue
        if not value.is_floating_point():
            raise WeightsError(f"{origin}: {key} holds {str(value.dtype).replace('torch.', '')} values where "
                               "floating-point weights are expected")
        problem = tensor_problem(key, value)
        if problem:
            raise WeightsError(f"{origin}: {key} holds {problem}")


def tensor_problem(key: str, value: torch.Tensor) -> str | None:
    """What is wrong with one floating-point weight: NaN or infinite values, or a negative running variance."""
    if not bool(torch.isfinite(value).all()):
        return "NaN or infinite values"
    if key.endswith("running_var") and bool((value < 0).any()):
        return "negative variances"
    return None


def state_problem(module: nn.Module) -> str | None:
    """The first weight or statistic of a module that could not be saved or used (see `tensor_problem`), named."""
    for key, value in module.state_dict().items():
        if value.is_floating_point():
            problem = tensor_problem(key, value)
            if problem:
                return f"{key} holds {problem}"
    return None


def _summarise(keys: list[str], limit: int = 6) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")


def load_weights(model: nn.Module, source: str | Path | Mapping[str, torch.Tensor], *, strict: bool = True,
                 reset_head: bool = False, fmt: str | None = None) -> LoadReport:
    """Load a checkpoint (state dict, file or `save_pretrained` directory) in any supported naming.

    strict (default): every model tensor must come from the checkpoint and every checkpoint tensor must be
    used, with matching shapes -- otherwise a `WeightsError` names the offending keys and nothing is loaded.
    A classifier of another size is an error unless `reset_head=True`, which gives a fresh, zeroed classifier."""
    if isinstance(source, (str, Path)):
        state = safe_load(source)
        origin = str(source)
    else:
        state = state_dict_of(source)
        origin = "state dict"
    fmt = fmt or detect_format(state)
    renamed, missing, unexpected = to_effnet_names(model, state, fmt)
    own = model.state_dict()
    # num_batches_tracked is bookkeeping, absent from some exports: never required.
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    missing += [k for k in own if k not in renamed and k not in missing and not k.endswith("num_batches_tracked")]
    unexpected += [k for k in renamed if k not in own]
    head_keys = [k for k in own if k.startswith("classifier.")]
    head_reset = False
    head_mismatch = [k for k in head_keys if k in renamed and renamed[k].shape != own[k].shape]
    if not head_keys:  # model built without a classifier (num_classes=0): the checkpoint's head is not needed
        unexpected = [k for k in unexpected if not k.startswith("classifier.") and "_fc." not in k]
        renamed = {k: v for k, v in renamed.items() if not k.startswith("classifier.")}
    if head_mismatch:
        if not reset_head:
            theirs, ours = renamed[head_mismatch[0]].shape[0], own[head_mismatch[0]].shape[0]
            raise WeightsError(f"{origin}: the checkpoint's classifier has {theirs} outputs but the model has "
                               f"{ours}; pass reset_head=True to start a fresh classifier")
        renamed = {k: v for k, v in renamed.items() if k not in head_keys}
        missing = [k for k in missing if k not in head_keys]
        head_reset = True
    elif reset_head:
        renamed = {k: v for k, v in renamed.items() if k not in head_keys}
        missing = [k for k in missing if k not in head_keys]
        head_reset = True
    mismatched = [f"{k} {tuple(renamed[k].shape)} vs {tuple(own[k].shape)}" for k in renamed
                  if k in own and renamed[k].shape != own[k].shape]
    check_values({k: v for k, v in renamed.items() if k in own}, own, origin)
    if mismatched:
        raise WeightsError(f"{origin} ({fmt} naming) does not fit this model: shape mismatch in "
                           f"{_summarise(mismatched, 3)}")
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {_summarise(missing)}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {_summarise(unexpected)}")
        raise WeightsError(f"{origin} ({fmt} naming) does not fit this model: {'; '.join(parts)}")
    usable = {k: v for k, v in renamed.items() if k in own}
    model.load_state_dict(usable, strict=False)  # strictness was checked above; the rest is deliberate
    if head_reset:
        zero_classifier(model)
    return LoadReport(fmt, len(usable), missing, unexpected, head_reset)


def _atomic_write(path: Path, write: Any) -> None:
    """Write via a temp file in the same directory, then rename: a crash never leaves a half file."""
    with atomic_path(path) as temp:
        write(str(temp))


def in_channels(model: nn.Module) -> int:
    """Input channels of a model (its first convolution's)."""
    return next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)


def save_pretrained(model: nn.Module, directory: str | Path, *, overwrite: bool = False,
                    inputs: Sequence[str | Path | None] = ()) -> Path:
    """Write `config.json` (spec, class count, preprocessing, origin of the weights) and `model.safetensors`.

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
    config = {"effnet_format": 2, "spec": spec.to_dict(), "num_classes": int(getattr(model, "num_classes", 0)),
              "in_chans": in_channels(model), "preprocessing": model.preprocessing.to_dict(),
              "weights_origin": dict(getattr(model, "weights_origin", {}) or {})}
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(directory / WEIGHTS_NAME, lambda temp: save_file(tensors, temp, metadata={"format": "pt"}))
    _atomic_write(directory / CONFIG_NAME, lambda temp: Path(temp).write_text(json.dumps(config, indent=2)))
    return directory


def read_config(directory: str | Path) -> dict[str, Any]:
    """The parsed `config.json` of a `save_pretrained` directory: {"spec": NetSpec, "num_classes", "in_chans",
    "preprocessing": Preprocessing, "weights_origin"}; one-line errors for missing, corrupt or absurd files."""
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
            "weights_origin": dict(origin) if isinstance(origin, dict) else {}}


def stored_elements(path: str | Path) -> int:
    """How many numbers a safetensors file holds, read from its header alone (nothing is loaded)."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return sum(math.prod(handle.get_slice(key).get_shape()) for key in handle.keys())  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as error:
        raise WeightsError(f"corrupt or truncated safetensors file {path}: {error}") from None
