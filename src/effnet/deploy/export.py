"""Export a model to ONNX / TorchScript / torch.export and verify the artifact against PyTorch.

Every export is checked: the saved file is loaded back and run on images the model's own preprocessing could
produce (random pixels, normalised as its weights expect) at two resolutions with batch sizes 1 and 2; the largest
absolute difference from the PyTorch model's logits is returned, and a difference above the tolerance raises
`VerificationError`. Files are written atomically, and with `check` an artifact that fails it never reaches its
path."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..architecture.layers import SamePad2d
from ..architecture.profiling import images_per_batch
from ..architecture.spec import NetSpec
from ..errors import InputError, MissingDependency, for_python, option
from ..model.card import ModelCard, card_of
from ..model.preprocessing import Preprocessing
from ..outputs import atomic_path, check_output
from .inference import optimize_for_inference

FORMATS = ("onnx", "torchscript", "exported-program")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "exported-program": ".pt2"}


class VerificationError(RuntimeError):
    """An exported artifact whose outputs differ from PyTorch's by more than the tolerance."""

    def __str__(self) -> str:
        return for_python(super().__str__())


def check_format(fmt: str) -> str:
    """`fmt` if it is a supported export format, else `InputError`."""
    if fmt not in FORMATS:
        raise InputError(f"unsupported export format {fmt!r}; choose from {', '.join(FORMATS)}")
    return fmt


def export_resolution(model: nn.Module, resolution: int | None) -> int:
    """The given size, or the model's spec resolution; `InputError` when too small, or so large that the export
    would not fit in memory."""
    if resolution is None:
        spec = getattr(model, "spec", None)
        resolution = int(getattr(spec, "resolution", 224))
    if resolution < 32:
        raise InputError(f"export resolution must be >= 32 pixels, got {resolution}")
    spec = getattr(model, "spec", None)
    if isinstance(spec, NetSpec):
        images_per_batch(spec, int(resolution), 2)  # refuses a size one image of which would exhaust memory
    return int(resolution)


def static_size_only(model: nn.Module, format: str) -> bool:
    """TF-"same"-padded models pad by an amount that depends on the input size's parity, which the graph
    exporters cannot keep symbolic: their ONNX / exported-program files are exported for one resolution."""
    return format != "torchscript" and any(isinstance(m, SamePad2d) for m in model.modules())


def _dynamic_dims(dynamic_batch: bool, dynamic_size: bool) -> dict[int, Any]:
    dims: dict[int, Any] = {}
    if dynamic_batch:
        dims[0] = torch.export.Dim.DYNAMIC
    if dynamic_size:
        dims[2] = torch.export.Dim.DYNAMIC
        dims[3] = torch.export.Dim.DYNAMIC
    return dims


def _quiet() -> contextlib.AbstractContextManager[Any]:
    stack = contextlib.ExitStack()
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    return stack


def require_onnx(what: str = "ONNX export") -> None:
    """A one-line error naming the `onnx` extra when the ONNX exporter's packages are missing."""
    for package in ("onnx", "onnxscript"):
        if importlib.util.find_spec(package) is None:
            raise MissingDependency(what, "onnx", package)


def export(model: nn.Module, path: str | os.PathLike[str], format: str = "onnx", *, resolution: int | None = None,
           dynamic_batch: bool = True, dynamic_size: bool = True, fold: bool = True, opset: int | None = None,
           overwrite: bool = False, inputs: Iterable[str | os.PathLike[str] | None] = (),
           check: Callable[[Path], Any] | None = None) -> Path:
    """Write `model` to `path` as `format` ("onnx", "torchscript", "exported-program"); returns the path.

    The exported graph is the inference path (BatchNorm folded) unless `fold=False`. The batch dimension
    (and with `dynamic_size` the spatial ones) stay dynamic. Call `verify` afterwards (the CLI always does).
    An existing file is replaced only with `overwrite`, and never one of `inputs` (the model's own files).
    `check(file)` runs on the written file before it is moved to `path` (e.g. `verify`): when it raises, nothing is
    left at `path` (an earlier file there stays as it was)."""
    check_format(format)
    check_output(path, inputs=inputs, overwrite=overwrite)
    if format == "onnx":
        require_onnx()
    size = export_resolution(model, resolution)
    net = optimize_for_inference(model, channels_last=False, backend="eager") if fold else model.eval()
    example = torch.randn(2, 3, size, size)
    dims = _dynamic_dims(dynamic_batch, dynamic_size and not static_size_only(model, format))
    with atomic_path(path) as tmp, _quiet(), torch.no_grad():
        if format == "onnx":
            torch.onnx.export(net, (example,), str(tmp), dynamo=True, external_data=False, opset_version=opset,
                              input_names=["image"], output_names=["logits"],
                              dynamic_shapes=({k: v for k, v in dims.items()},) if dims else None, verbose=False)
        elif format == "torchscript":
            scripted = torch.jit.script(net)
            torch.jit.save(scripted, str(tmp))
        else:
            program = torch.export.export(net, (example,), dynamic_shapes=(dims,) if dims else None)
            torch.export.save(program, str(tmp))
        if format == "onnx":
            write_onnx_metadata(tmp, model)
        if check is not None:
            check(tmp)
    return Path(path)


METADATA_KEY = "effnet"  # the ONNX metadata property that carries the model's preprocessing, labels and origin


def write_onnx_metadata(path: Path, model: nn.Module) -> None:
    """Store the model's preprocessing (input size, crop, interpolation, mean/std, class names), spec name and
    weights' origin in the ONNX file's metadata, so the file alone can be run, calibrated and judged."""
    import onnx  # the onnx extra, required by the export already

    card = card_of(model)  # the model's card: ModelCard.from_onnx_metadata reads it back
    spec = getattr(model, "spec", None)
    payload = {"preprocessing": card.preprocessing.to_dict() if card is not None else None,
               "spec": getattr(spec, "name", None), "num_classes": getattr(model, "num_classes", None),
               "weights_origin": dict(card.origin) if card is not None else {}}
    graph = onnx.load(str(path))
    del graph.metadata_props[:]
    entry = graph.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(payload)
    onnx.save(graph, str(path))


def read_onnx_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata `export` stored in an ONNX file ({} for a file exported elsewhere); one line if unreadable."""
    require_onnx("reading an ONNX file")
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # onnx raises its own types for files that are not ONNX
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"cannot load {path}: not an ONNX model ({detail})") from None
    for entry in graph.metadata_props:
        if entry.key == METADATA_KEY:
            try:
                data = json.loads(entry.value)
            except ValueError:
                raise InputError(f"{path}: its effnet metadata is not JSON") from None
            return data if isinstance(data, dict) else {}
    return {}


def load_exported(path: str | os.PathLike[str], format: str | None = None, *,
                  threads: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable image batch -> logits for an exported file (format guessed from the suffix if not given)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported model at {path}")
    if format is None:
        guess = {suffix: name for name, suffix in SUFFIXES.items()}
        if path.suffix not in guess:
            raise InputError(f"cannot tell the format of {path}; use a {', '.join(SUFFIXES.values())} file")
        format = guess[path.suffix]
    check_format(format)
    if format == "onnx":
        return OnnxRuntimeModel(path, threads=threads)
    with _quiet():
        if format == "torchscript":
            module = torch.jit.load(str(path), map_location="cpu")
        else:
            module = torch.export.load(str(path)).module()
    return _TorchRunner(module)


class _TorchRunner:
    def __init__(self, module: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.module = module

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.module(images)


class OnnxRuntimeModel:
    """An ONNX file run by ONNX Runtime on the CPU, called like a model: float tensor (N, 3, H, W) -> logits."""

    def __init__(self, path: str | os.PathLike[str], *, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise MissingDependency("running ONNX models", "onnx", "onnxruntime") from None

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"no ONNX model at {self.path}")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle workers sleep instead of spinning, so sessions and PyTorch sharing few cores do not starve each other.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own exception types for unreadable files
            raise InputError(f"cannot load {self.path} with ONNX Runtime: {str(error).splitlines()[0]}") from None
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def run_numpy(self, images: np.ndarray) -> np.ndarray:
        """Logits for a float32 NCHW numpy batch."""
        return self.session.run([self.output_name], {self.input_name: np.ascontiguousarray(images, np.float32)})[0]

    def __call__(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else images
        return torch.from_numpy(self.run_numpy(array))

    def eval(self) -> OnnxRuntimeModel:
        """No-op, so code written for modules can call it."""
        return self


class OnnxRuntimeModule(nn.Module):
    """A model run by ONNX Runtime behind an `nn.Module` face (forward = the session), with a model card -- the
    source model's, or the one an ONNX file carries -- so code written for effnet models (predict, bench) can call
    it: `spec`, `num_classes` and `preprocessing` are views of the card."""

    def __init__(self, runner: OnnxRuntimeModel, source: nn.Module | ModelCard | None = None) -> None:
        super().__init__()
        self.runner = runner
        self.card = source if isinstance(source, ModelCard) or source is None else card_of(source)

    @property
    def spec(self) -> NetSpec | None:
        return self.card.spec if self.card is not None else None

    @property
    def num_classes(self) -> int | None:
        return self.card.num_classes if self.card is not None else None

    @property
    def preprocessing(self) -> Preprocessing | None:
        return self.card.preprocessing if self.card is not None else None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.runner(images.float())


def load_onnx(path: str | os.PathLike[str], *, threads: int | None = None,
              card: ModelCard | None = None) -> OnnxRuntimeModule:
    """An ONNX file effnet exported, run by ONNX Runtime, with the preprocessing and class names its metadata
    carries (a file without them gets the default for 224 px); `card`: that metadata's card when the caller has
    read it already (`effnet.hub.source.OnnxFile.card`)."""
    card = card or ModelCard.from_onnx_metadata(read_onnx_metadata(path))
    return OnnxRuntimeModule(OnnxRuntimeModel(path, threads=threads), card)


def cache_folder() -> Path:
    """Where verified ONNX exports are kept for reuse: `$EFFNET_CACHE`, else `$XDG_CACHE_HOME/effnet/onnx`, else
    `~/.cache/effnet/onnx`."""
    if os.environ.get("EFFNET_CACHE"):
        return Path(os.environ["EFFNET_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "effnet" / "onnx"


def export_key(model: nn.Module, size: int) -> str:
    """What an ONNX export depends on: the architecture, the input size, the weights and the preprocessing."""
    digest = hashlib.sha256()
    spec, card = getattr(model, "spec", None), card_of(model)
    digest.update(json.dumps({"spec": spec.to_dict() if isinstance(spec, NetSpec) else repr(type(model)),
                              "size": size, "torch": torch.__version__,
                              "preprocessing": card.preprocessing.to_dict() if card is not None else {}},
                             sort_keys=True, default=str).encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:32]


def to_onnxruntime(model: nn.Module, *, resolution: int | None = None, threads: int | None = None) -> OnnxRuntimeModule:
    """The model as a verified ONNX file (batch 1 and 2 at `resolution`) loaded into ONNX Runtime. The file is
    kept in `cache_folder()` under a key of the architecture, size and weights, so the next call with the same
    model loads it instead of exporting again."""
    size = export_resolution(model, resolution)
    require_onnx("the onnxruntime path")
    if importlib.util.find_spec("onnxruntime") is None:
        raise MissingDependency("the onnxruntime path", "onnx", "onnxruntime")
    path = cache_folder() / f"{export_key(model, size)}.onnx"
    if not path.is_file():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError:  # no writable cache: a temporary export, as before
            with tempfile.TemporaryDirectory(prefix="effnet-onnx-") as folder:
                temp = export(model, Path(folder) / "model.onnx", "onnx", resolution=size,
                              check=lambda written: verify(model, written, "onnx", resolutions=(size,)))
                return OnnxRuntimeModule(OnnxRuntimeModel(temp, threads=threads), model)
        export(model, path, "onnx", resolution=size, overwrite=True,
               check=lambda written: verify(model, written, "onnx", resolutions=(size,)))
    return OnnxRuntimeModule(OnnxRuntimeModel(path, threads=threads), model)


def verify(model: nn.Module, path: str | os.PathLike[str], format: str | None = None, *,
           resolution: int | None = None, resolutions: Sequence[int] | None = None,
           batch_sizes: Sequence[int] = (1, 2), tolerance: float = 1e-4, seed: int = 0) -> float:
    """Max abs difference between `model` (PyTorch, eval) and the exported file on random inputs at each of
    `resolutions` (default: `resolution` -- the model's if None -- and 32 px more; only the first for static-size
    files) and batch size; raises `VerificationError` above `tolerance` times max(1, largest |logit|)."""
    runner = load_exported(path, format)
    if resolutions is None:
        size = export_resolution(model, resolution)
        fmt = format or {suffix: name for name, suffix in SUFFIXES.items()}.get(Path(path).suffix, "onnx")
        resolutions = (size,) if static_size_only(model, fmt) else (size, size + 32)
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    card = card_of(model)
    mean = torch.tensor(card.preprocessing.mean if card is not None else (0.5, 0.5, 0.5)).view(1, 3, 1, 1)
    std = torch.tensor(card.preprocessing.std if card is not None else (0.5, 0.5, 0.5)).view(1, 3, 1, 1)
    worst, scale = 0.0, 1.0
    try:
        for size in resolutions:
            for batch in batch_sizes:  # pixels in [0, 1], normalised as the model's preprocessing does
                images = (torch.rand(batch, 3, size, size, generator=generator) - mean) / std
                with torch.no_grad():
                    expected = model(images)
                try:
                    got = runner(images)
                except Exception as error:  # any runtime failure of the artifact is a failed verification
                    message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    raise VerificationError(f"{path} failed on a {batch}x3x{size}x{size} input: {message}") from error
                if tuple(got.shape) != tuple(expected.shape):
                    raise VerificationError(f"{path} gave shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
                worst = max(worst, float((got.float() - expected.float()).abs().max()))
                scale = max(scale, float(expected.abs().max()))
    finally:
        model.train(was_training)
    if not worst <= tolerance * scale:
        raise VerificationError(f"{path} differs from PyTorch by {worst:.3g}, more than the tolerance {tolerance:g} x "
                                f"max(1, largest |logit| {scale:.3g}) = {tolerance * scale:.3g}; a looser "
                                f"{option('tolerance', 'T')} accepts it")
    return worst


__all__ = ["FORMATS", "METADATA_KEY", "OnnxRuntimeModel", "OnnxRuntimeModule", "VerificationError", "atomic_path",
           "cache_folder", "export", "export_key", "load_exported", "load_onnx", "read_onnx_metadata",
           "to_onnxruntime", "verify", "write_onnx_metadata"]
