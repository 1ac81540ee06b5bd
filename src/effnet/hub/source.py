"""Every way into a model, classified and read once. `resolve_source(x)` turns a registered name (with its weights
tag), a spec file or `NetSpec`, a `save_pretrained` folder, a trainer checkpoint, a weights file or an ONNX file
into a typed source that keeps what it read, and each source's `card()` is the `ModelCard` it describes.

A source with an architecture also has the model's training defaults (`training`): what the file stored with it
(a spec written before they left `NetSpec` still holds them), else its registered name's or family's.

"What kind of path is this?" is answered here and nowhere else: commands resolve once and pass the source on (the
loader accepts a resolved source wherever it accepts a name or a path)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..architecture.spec import NetSpec, SpecError
from ..architecture.training_defaults import TrainingDefaults
from ..architecture.zoo import (
    is_registered,
    normalize_name,
    read_model_file,
    registered_spec,
    split_tag,
    training_defaults,
    unknown_model,
)
from ..deploy.export import read_onnx_metadata
from ..errors import UnknownModelError, WeightsError
from ..model.card import ModelCard, Tensors
from ..model.preprocessing import Preprocessing
from .checkpoints import (
    checkpoint_preprocessing,
    checkpoint_spec,
    checkpoint_state,
    checkpoint_training,
    is_trainer_state,
)
from .pretrained import PretrainedEntry, find_weights, no_weights
from .weights import CONFIG_NAME, WEIGHTS_NAME, read_checkpoint, read_config, state_dict_of


class _WithTraining:
    """A source's `training` defaults to its spec's registered `training_defaults` when none was read."""

    spec: NetSpec
    training: TrainingDefaults | None

    def __post_init__(self) -> None:
        if self.training is None:
            object.__setattr__(self, "training", training_defaults(self.spec))


@dataclass(frozen=True)
class RegisteredName(_WithTraining):
    """A registered model name: its spec (the factory called once), the weights tag it named (None: the default
    tag), the registered weights that tag names, if any, and the name's training defaults."""

    name: str
    tag: str | None
    spec: NetSpec
    weights: PretrainedEntry | None
    training: TrainingDefaults | None = None

    def card(self, *, pretrained: bool = False) -> ModelCard:
        """A fresh network's card, or with `pretrained` the registered weights' (with the spec fields a state dict
        cannot hold, e.g. TF "same" padding); `WeightsError` saying where to get weights when there are none."""
        if not pretrained:
            return ModelCard.for_spec(self.spec, training=self.training)
        entry = self.weights
        if entry is None:
            raise no_weights(self.name, self.tag, self.spec.name)
        return ModelCard(self.spec.replace(**entry.spec_overrides), entry.num_classes, 3, entry.preprocessing,
                         entry.weights_origin(), self.training, weights=entry.path())


@dataclass(frozen=True)
class SpecFile(_WithTraining):
    """A spec JSON file (any JSON object with a "spec" entry too), or a `NetSpec` given as it is (`path` None)."""

    path: Path | None
    spec: NetSpec
    training: TrainingDefaults | None = None

    def card(self) -> ModelCard:
        """A fresh network's card."""
        return ModelCard.for_spec(self.spec, training=self.training)


@dataclass(frozen=True)
class PretrainedFolder(_WithTraining):
    """A `save_pretrained` folder: its config.json, read once with `weights.read_config`'s checks; the tensors
    stay in model.safetensors until they are loaded."""

    path: Path
    spec: NetSpec
    num_classes: int
    in_chans: int
    preprocessing: Preprocessing
    origin: dict[str, Any] = field(default_factory=dict)
    training: TrainingDefaults | None = None

    @property
    def weights_file(self) -> Path:
        return self.path / WEIGHTS_NAME

    def card(self, *, ema: bool = False) -> ModelCard:
        """The saved model's card, its weights the folder's safetensors file."""
        if ema:
            raise WeightsError(f"{self.path} holds one set of weights (no EMA); its EMA twin is saved as a "
                               "separate folder (pretrained-ema)")
        return ModelCard(self.spec, self.num_classes, self.in_chans, self.preprocessing,
                         {**self.origin, "source": str(self.path)}, self.training, weights=self.weights_file)


@dataclass(frozen=True)
class TrainerCheckpoint(_WithTraining):
    """A file the trainer wrote (`last.pt`, `best.pt`), read once; `data` is its whole content."""

    path: Path
    data: Mapping[str, Any] = field(compare=False, repr=False)
    spec: NetSpec
    num_classes: int
    in_chans: int
    preprocessing: Preprocessing
    origin: dict[str, Any] = field(default_factory=dict)
    training: TrainingDefaults | None = None

    @classmethod
    def read(cls, path: Path, data: Mapping[str, Any]) -> TrainerCheckpoint:
        """The typed view of a trainer checkpoint's content; `WeightsError` for a corrupt one."""
        spec = checkpoint_spec(data, str(path))
        num_classes, in_chans = data.get("num_classes"), data.get("in_chans", 3)
        for name, value in (("num_classes", num_classes), ("in_chans", in_chans)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise WeightsError(f"{path}: corrupt trainer checkpoint ({name} {str(value)[:40]!r})")
        origin = {"model": str(data.get("model", spec.name)), "origin": f"trainer checkpoint {path.name}",
                  "ema_available": isinstance(data.get("ema_state"), Mapping)}
        return cls(path, data, spec, num_classes, in_chans, checkpoint_preprocessing(data, spec), origin,
                   checkpoint_training(data, spec, str(path)))

    def card(self, *, ema: bool = False) -> ModelCard:
        """The run's model (or, with `ema`, its EMA model) with the run's preprocessing and class names."""
        state = checkpoint_state(self.data, ema, str(self.path))
        origin = {**self.origin, "source": str(self.path), **({"ema": True} if ema else {})}
        return ModelCard(self.spec, self.num_classes, self.in_chans, self.preprocessing, origin, self.training,
                         weights=state)


@dataclass(frozen=True)
class WeightsFile:
    """A checkpoint of tensors in any supported naming, without an architecture of its own; read once."""

    path: Path
    content: Any = field(compare=False, repr=False)

    def state(self) -> Tensors:
        """Its flat {name: tensor} state dict (common wrappers and DDP prefixes removed)."""
        return state_dict_of(self.content, source=str(self.path))

    def card(self) -> ModelCard:
        """None to give: a weights file has no architecture (`WeightsError`)."""
        raise no_architecture(self.path)


@dataclass(frozen=True)
class OnnxFile:
    """An exported ONNX file and the metadata effnet wrote into it ({} for a file exported elsewhere)."""

    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    def card(self) -> ModelCard:
        """The preprocessing, class count and origin the file carries (no spec: it holds a graph)."""
        return ModelCard.from_onnx_metadata(self.metadata)


Source = RegisteredName | SpecFile | PretrainedFolder | TrainerCheckpoint | WeightsFile | OnnxFile
SOURCES = (RegisteredName, SpecFile, PretrainedFolder, TrainerCheckpoint, WeightsFile, OnnxFile)
STORED = (PretrainedFolder, TrainerCheckpoint)  # sources that bring their own architecture and weights
SourceLike = str | os.PathLike[str] | NetSpec | Source


def resolve_source(source: SourceLike) -> Source:
    """The typed source `source` is -- a registered name (a file of that name wins), a spec file or `NetSpec`, a
    `save_pretrained` folder, a trainer checkpoint, a weights file or an ONNX file -- its content read once; an
    already resolved source is returned as it is. Unknown names get an error naming close matches."""
    if isinstance(source, SOURCES):
        return source
    if isinstance(source, NetSpec):
        return SpecFile(None, source)
    if not isinstance(source, (str, os.PathLike)):
        raise UnknownModelError(f"model must be a name or a spec file, got {type(source).__name__}")
    text = os.fspath(source)
    path = Path(text)
    if is_registered(text) and not path.is_file():
        base, tag = split_tag(text)
        return RegisteredName(normalize_name(base), tag, registered_spec(base), find_weights(base, tag))
    if path.is_dir():
        return _folder(path)
    if text.lower().endswith(".json"):
        return SpecFile(path, *read_model_file(path))  # a missing one: "spec file not found"
    if not path.exists():
        raise unknown_model(text)
    return _file(path)


def resolve_weights(weights: str | os.PathLike[str] | Source | Tensors) -> Source | Tensors:
    """What a `weights` argument is: a path (always a path, never a model name) resolved as `resolve_source` does;
    a tensor mapping or an already resolved source as it is."""
    if isinstance(weights, (*SOURCES, Mapping)):
        return weights
    path = Path(weights)
    if path.is_dir():
        return _folder(path)
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}")
    return _file(path)


def spec_of(source: SourceLike) -> NetSpec:
    """The architecture a source describes; a one-line error for a weights file or an ONNX file, which have none."""
    resolved = resolve_source(source)
    if isinstance(resolved, WeightsFile):
        raise no_architecture(resolved.path)
    if isinstance(resolved, OnnxFile):
        raise SpecError(f"{resolved.path} is an ONNX file: it holds a graph, not a spec")
    return resolved.spec


def no_architecture(path: Path) -> WeightsError:
    """The error for a weights file used where a model is needed."""
    return WeightsError(f"{path} is a weights file without an architecture: name the model it belongs to and pass "
                        "the file as its weights")


def _folder(path: Path) -> PretrainedFolder:
    if not (path / CONFIG_NAME).is_file():
        raise WeightsError(f"{path} is a folder but not a saved effnet model ({CONFIG_NAME} not found)")
    config = read_config(path)
    return PretrainedFolder(path, config["spec"], config["num_classes"], config["in_chans"], config["preprocessing"],
                            config["weights_origin"], config["training"])


def _file(path: Path) -> SpecFile | OnnxFile | TrainerCheckpoint | WeightsFile:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return SpecFile(path, *read_model_file(path))
    if suffix == ".onnx":
        return OnnxFile(path, read_onnx_metadata(path))
    try:
        content = read_checkpoint(path)
    except WeightsError:
        if _looks_like_json(path):  # a spec file under another name
            return SpecFile(path, *read_model_file(path))
        raise
    if is_trainer_state(content):
        return TrainerCheckpoint.read(path, content)
    return WeightsFile(path, content)


def _looks_like_json(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(1024).lstrip().startswith((b"{", b"["))


__all__ = ["SOURCES", "STORED", "OnnxFile", "PretrainedFolder", "RegisteredName", "Source", "SourceLike", "SpecFile",
           "TrainerCheckpoint", "WeightsFile", "no_architecture", "resolve_source", "resolve_weights", "spec_of"]
