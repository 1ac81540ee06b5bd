"""Int8: ONNX Runtime static quantization of an exported model, and how far its top-1 moves from fp32.

Calibration images come from a folder (any images, searched recursively), a named dataset's training split
(`fashion-mnist`, `cifar10`, `cifar100`) or the built-in `skimage` set. The labelled set for the accuracy change
is a named dataset's test split (for a model trained on it), an ImageFolder-style folder whose sub-folders are
named by class index, or the built-in `skimage-imagenet` set: five scikit-image photos that show an ImageNet
class (cat, coffee cup, rocket, motor scooter, wall clock), each with the set of ImageNet labels that correctly
name it, in eight deterministic views (crops and flips). That one is tiny (40 views of 5 photos) and offline;
ImageNet-val is not."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..data import NAMED_DATASETS, make_dataset
from ..data.transforms import eval_transform
from ..errors import InputError, MissingDependency
from ..model.preprocessing import Preprocessing, load_image
from ..outputs import atomic_path, check_output, scratch_path
from .export import OnnxRuntimeModel

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

# scikit-image photo -> ImageNet-1k indices that correctly name what it shows (decided from the pictures).
SKIMAGE_LABELS: dict[str, tuple[int, ...]] = {
    "chelsea": (281, 282, 283, 285),  # tabby, tiger cat, Persian cat, Egyptian cat
    "coffee": (504, 967, 968),  # coffee mug, espresso, cup
    "rocket": (657, 744, 812),  # missile, projectile, space shuttle
    "stereo_motorcycle": (665, 670),  # moped, motor scooter
    "clock": (409, 892),  # analog clock, wall clock
}
# Photos not in the labelled set, used for calibration by default.
SKIMAGE_CALIBRATION = ("astronaut", "camera", "coins", "brick", "grass", "gravel", "colorwheel", "page", "text",
                       "moon", "retina", "immunohistochemistry")


@dataclass
class Sample:
    """One preprocessed view and the class indices that count as correct (empty when unlabelled)."""

    image: torch.Tensor
    labels: tuple[int, ...] = ()


def _skimage(name: str) -> Image.Image:
    try:
        import skimage.data
    except ImportError:
        raise MissingDependency("the built-in sample photos", "demo", "scikit-image") from None

    data = getattr(skimage.data, name)()
    data = data[0] if isinstance(data, tuple) else data
    if data.dtype != np.uint8:
        data = (data.astype(np.float64) / max(float(data.max()), 1.0) * 255).astype(np.uint8)
    return Image.fromarray(data).convert("RGB")


def views(image: Image.Image, config: Preprocessing, count: int = 8) -> list[torch.Tensor]:
    """`count` deterministic views: centre crops at three crop fractions, corner-shifted crops, and flips."""
    out: list[torch.Tensor] = []
    for crop_pct in (config.crop_pct, 1.0, 0.75):
        tensor = eval_transform(config.replace(crop_pct=crop_pct))(image)
        out.extend([tensor, tensor.flip(-1)])
    width, height = image.size
    side = min(width, height)
    transform = eval_transform(config)
    for left, top in ((0, 0), (width - side, height - side)):
        out.append(transform(image.crop((left, top, left + side, top + side))))
    return out[:count]


def _image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"not a folder of images: {folder}")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) found under {folder}")
    return files


def _is_named_dataset(source: str | os.PathLike[str]) -> bool:
    return str(source).lower().replace("_", "-") in NAMED_DATASETS


class DatasetSamples(Sequence[Sample]):
    """A named dataset's images as preprocessed `Sample`s, made on access (10k views never sit in memory)."""

    def __init__(self, name: str, split: str, config: Preprocessing, *, limit: int | None = None,
                 data_dir: str | os.PathLike[str] | None = None, spread: bool = False) -> None:
        self.dataset = make_dataset(str(name), split, data_dir=data_dir, transform=eval_transform(config))
        total = len(self.dataset)
        count = total if limit is None else min(limit, total)
        # spread=True takes evenly spaced images (a class-balanced-enough calibration set from a sorted split)
        self.indices = [i * total // count for i in range(count)] if spread else list(range(count))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        image, label = self.dataset[self.indices[index]]
        return Sample(image, (int(label),))


def calibration_samples(source: str | os.PathLike[str], config: Preprocessing, limit: int = 64, *,
                        data_dir: str | os.PathLike[str] | None = None) -> list[Sample]:
    """Calibration inputs from a folder of images, a named dataset's training split (`data_dir` as for
    training) or the built-in `skimage` set (up to `limit` views)."""
    if _is_named_dataset(source):
        return list(DatasetSamples(str(source), "train", config, limit=limit, data_dir=data_dir, spread=True))
    if str(source) == "skimage":
        images = [_skimage(name) for name in SKIMAGE_CALIBRATION]
    else:
        images = [load_image(path) for path in _image_files(Path(source))[:limit]]
    per_image = max(1, -(-limit // len(images)))
    samples = [Sample(view) for image in images for view in views(image, config, per_image)]
    return samples[:limit]


def labelled_samples(source: str | os.PathLike[str], config: Preprocessing, *, limit: int | None = None,
                     data_dir: str | os.PathLike[str] | None = None) -> Sequence[Sample]:
    """The labelled set: a named dataset's test split (the first `limit` images), `skimage-imagenet` (built in,
    see the module docstring) or a folder whose sub-folders are class indices (`root/281/x.jpg`), one centre
    view per image."""
    if _is_named_dataset(source):
        return DatasetSamples(str(source), "test", config, limit=limit, data_dir=data_dir)
    if str(source) == "skimage-imagenet":
        return [Sample(view, labels) for name, labels in SKIMAGE_LABELS.items()
                for view in views(_skimage(name), config)]
    root = Path(source)
    samples = []
    transform = eval_transform(config)
    for path in _image_files(root):
        folder = path.relative_to(root).parts[0]
        if not folder.isdigit():
            raise InputError(f"labelled folders must be named by class index, got {root / folder}")
        samples.append(Sample(transform(load_image(path)), (int(folder),)))
    return samples


def check_labelled_classes(source: str | os.PathLike[str], config: Preprocessing, num_classes: int | None,
                           data_dir: str | os.PathLike[str] | None = None) -> None:
    """Refuse a labelled set whose classes are not the model's (its accuracy would be meaningless): a named
    dataset's class names against the model's labels (or its class count), ImageNet's 1000 classes for the
    built-in photos, class-index folders within the model's outputs."""
    labels = list(config.labels or ())
    count = len(labels) or num_classes
    if _is_named_dataset(source):
        classes = list(make_dataset(str(source), "test", data_dir=data_dir).classes)
        if (labels and labels != classes) or (not labels and count is not None and count != len(classes)):
            raise InputError(f"the labelled set {source} has {len(classes)} classes ({', '.join(classes[:3])}, ...) "
                             f"and the model {count} ({', '.join(labels[:3]) or 'unnamed'}, ...): not the same "
                             "classes; its accuracy would be meaningless")
    elif str(source) == "skimage-imagenet" and count is not None and count != 1000:
        raise InputError(f"the built-in labelled photos are ImageNet's 1000 classes and the model has {count}; pass "
                         "a labelled set of the model's own classes")


class _Reader:
    """The calibration data reader ONNX Runtime asks for: one {input: batch} dict at a time."""

    def __init__(self, input_name: str, samples: Sequence[Sample]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter(
            [{input_name: sample.image[None].numpy().astype(np.float32)} for sample in samples])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


CALIBRATION_METHODS = ("minmax", "minmax-average", "entropy", "percentile", "auto")
_METADATA_KEY = "effnet.calibration"


# Methods that clip each activation's observed [min, max] to a threshold ONNX Runtime's histogram calibrators
# find: (calibrator, its options). ORT's quantize_static cannot pass histogram sizes through, and with its
# defaults (128 bins, 128 quantized bins) the entropy search has a single candidate: plain min-max.
_CLIPPED_METHODS = {
    "entropy": ("Entropy", {"num_bins": 2048, "num_quantized_bins": 128}),
    "percentile": ("Percentile", {"num_bins": 2048, "percentile": 99.99, "symmetric": True}),
}
# `auto` leaves out entropy: its pure-Python search takes minutes per model (~140 s for 256 images of a
# 2.4 M-parameter EfficientNet on one core) and did no better than percentile in our runs (BENCHMARKS.md).
_AUTO_CANDIDATES = ("minmax", "minmax-average", "percentile")


def _calibration_settings(method: str) -> dict[str, Any]:
    from onnxruntime.quantization import CalibrationMethod

    if method == "minmax-average":
        return {"calibrate_method": CalibrationMethod.MinMax, "extra_options": {"CalibMovingAverage": True}}
    return {"calibrate_method": CalibrationMethod.MinMax}


def _clipped_ranges(model: Path, input_name: str, calibration: Sequence[Sample], method: str) -> dict[str, Any]:
    """Per-activation (rmin, rmax) overrides: the observed extremes, clipped to +-threshold from `method`'s
    histogram calibrator (a threshold alone is symmetric and would waste half of uint8 on SiLU outputs)."""
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import create_calibrator

    def ranges(calibrate_method: Any, options: dict[str, Any]) -> dict[str, tuple[float, float]]:
        with tempfile.TemporaryDirectory() as work:
            calibrator = create_calibrator(str(model), None, augmented_model_path=str(Path(work) / "augmented.onnx"),
                                           calibrate_method=calibrate_method, extra_options=options)
            calibrator.collect_data(_Reader(input_name, calibration))
            data = calibrator.compute_data().data
        return {name: tuple(float(np.asarray(value).reshape(-1)[0]) for value in tensor.range_value)
                for name, tensor in data.items()}

    calibrator_name, options = _CLIPPED_METHODS[method]
    extremes = ranges(CalibrationMethod.MinMax, {})
    thresholds = ranges(getattr(CalibrationMethod, calibrator_name), dict(options))
    overrides = {}
    for name, (low, high) in extremes.items():
        if name in thresholds:
            limit = max(abs(value) for value in thresholds[name])
            overrides[name] = [{"rmin": np.float32(max(low, -limit)), "rmax": np.float32(min(high, limit))}]
    return overrides


def quantize_onnx(fp32_path: str | os.PathLike[str], int8_path: str | os.PathLike[str],
                  calibration: Sequence[Sample], *, per_channel: bool = True, method: str = "minmax",
                  holdout: Sequence[Sample] | None = None, overwrite: bool = False) -> Path:
    """Static int8 quantization (QDQ, per-channel int8 weights, uint8 activations).

    `method` sets each activation's range from the calibration images: `minmax` (default) takes the extremes
    over all images; `minmax-average` averages the per-image extremes (finer steps, but it clips what only a few
    images excite: right for in-distribution calibration sets, ruinous for a handful of unrelated photos);
    `percentile` clips each activation's extremes to the 99.99th percentile of its magnitudes and `entropy` to
    TensorRT's KL-optimal threshold (2048-bin histograms; slow); `auto` quantizes with minmax, minmax-average and
    percentile and keeps the one whose outputs stay closest to fp32 (mean KL divergence of the softmax) on
    `holdout` images (by default every fourth calibration image, held out of that trial), then calibrates with
    all the images. The method used (and for `auto` every score) is stored in the model's metadata under
    `effnet.calibration` (`calibration_report` reads it). An existing output is replaced only with `overwrite`,
    and never the fp32 input itself."""
    check_output(int8_path, inputs=[fp32_path], overwrite=overwrite)
    if method not in CALIBRATION_METHODS:
        raise InputError(f"unknown calibration method {method!r}; choose from {', '.join(CALIBRATION_METHODS)}")
    if not calibration:
        raise InputError("int8 calibration needs at least one image")
    source = Path(fp32_path)
    if not source.is_file():
        raise FileNotFoundError(f"no ONNX model at {source}")
    if method != "auto":
        return _quantize(source, Path(int8_path), calibration, per_channel, method, {"method": method})
    trial = calibration
    if holdout is None:
        if len(calibration) < 4:
            raise InputError("calibration method 'auto' needs at least 4 calibration images (it holds some out)")
        holdout = calibration[3::4]
        trial = [sample for index, sample in enumerate(calibration) if index % 4 != 3]
    reference = OnnxRuntimeModel(source)
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=Path(int8_path).parent) as work:
        for candidate in _AUTO_CANDIDATES:
            path = _quantize(source, Path(work) / f"{candidate}.onnx", trial, per_channel, candidate, {})
            scores[candidate] = divergence(reference, OnnxRuntimeModel(path), holdout)
    best = min(scores, key=scores.__getitem__)
    report = {"method": best, "chosen_by": "auto", "holdout_images": len(holdout), "mean_kl": scores}
    return _quantize(source, Path(int8_path), calibration, per_channel, best, report)


def _quantize(source: Path, target: Path, calibration: Sequence[Sample], per_channel: bool, method: str,
              report: dict[str, Any]) -> Path:
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    input_name = OnnxRuntimeModel(source).input_name
    with atomic_path(target) as tmp, scratch_path(target) as pre:  # pre: a helper file, never a named one
        quant_pre_process(str(source), str(pre), skip_symbolic_shape=True)
        settings = _calibration_settings(method)
        if method in _CLIPPED_METHODS:
            with contextlib.redirect_stdout(sys.stderr):  # ORT's histogram calibrators print progress
                overrides = _clipped_ranges(pre, input_name, calibration, method)
            settings["extra_options"] = {"TensorQuantOverrides": overrides}
        quantize_static(str(pre), str(tmp), _Reader(input_name, calibration), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel,
                        **settings)
        if report:
            model = onnx.load(str(tmp))
            onnx.helper.set_model_props(model, {_METADATA_KEY: json.dumps(report)})
            onnx.save(model, str(tmp))
    return target


def calibration_report(int8_path: str | os.PathLike[str]) -> dict[str, Any]:
    """How an int8 model written by `quantize_onnx` was calibrated ({} for other files)."""
    import onnx

    model = onnx.load(str(int8_path), load_external_data=False)
    for prop in model.metadata_props:
        if prop.key == _METADATA_KEY:
            return json.loads(prop.value)
    return {}


def divergence(fp32: OnnxRuntimeModel, int8: OnnxRuntimeModel, samples: Sequence[Sample]) -> float:
    """Mean KL(fp32 || int8) of the softmax outputs over `samples`: how far int8 moves the predictions, a
    finer signal than top-1 agreement on a few images."""
    if not samples:
        raise InputError("no samples to compare on")
    total = 0.0
    for sample in samples:
        batch = sample.image[None].numpy()
        p = torch.from_numpy(fp32.run_numpy(batch)).double().log_softmax(-1)
        q = torch.from_numpy(int8.run_numpy(batch)).double().log_softmax(-1)
        total += float((p.exp() * (p - q)).sum())
    return total / len(samples)


@dataclass
class Comparison:
    """Top-1 agreement of int8 with fp32 and accuracy of each on the labelled samples."""

    samples: int
    agreement: float
    fp32_accuracy: float
    int8_accuracy: float

    @property
    def accuracy_change(self) -> float:
        return self.int8_accuracy - self.fp32_accuracy

    def as_dict(self) -> dict[str, float]:
        return {**asdict(self), "accuracy_change": self.accuracy_change}


def compare(fp32: OnnxRuntimeModel, int8: OnnxRuntimeModel, samples: Sequence[Sample]) -> Comparison:
    """Run both models on every sample; accuracy counts a top-1 in the sample's label set as correct."""
    if not samples:
        raise InputError("no samples to compare on")
    agree = right_fp32 = right_int8 = 0
    for sample in samples:
        batch = sample.image[None].numpy()
        top_fp32 = int(fp32.run_numpy(batch)[0].argmax())
        top_int8 = int(int8.run_numpy(batch)[0].argmax())
        agree += top_fp32 == top_int8
        right_fp32 += top_fp32 in sample.labels
        right_int8 += top_int8 in sample.labels
    n = len(samples)
    return Comparison(n, agree / n, right_fp32 / n, right_int8 / n)


__all__ = ["CALIBRATION_METHODS", "SKIMAGE_LABELS", "Comparison", "DatasetSamples", "Sample", "calibration_report",
           "calibration_samples", "check_labelled_classes", "compare", "divergence", "labelled_samples",
           "quantize_onnx", "views"]
