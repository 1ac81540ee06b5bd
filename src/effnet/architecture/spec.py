"""Paper Eq. 1 as data: a ConvNet is a stem, a sequence of stages (operator F_i repeated L_i times
with C_i output channels) and a head. Specs are immutable; scaling and building are functions of them."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import SpecError

ACTIVATIONS = ("silu", "relu", "relu6", "hardswish", "gelu")
PADDINGS = ("symmetric", "same")

_FLOAT_KEYS = {"e": "expand", "se": "se"}
_INT_KEYS = {"r": "repeats", "k": "kernel", "s": "stride", "c": "channels", "g": "groups"}
_TOKEN = re.compile(r"^(se|r|k|s|e|c|g)(\d+(?:\.\d+)?)$")

# Bounds that keep a spec (or a hostile spec file) from describing a network no machine could build: a file that
# asks for more is refused at once instead of exhausting memory. The largest published networks are far inside.
MAX_BLOCKS = 4096  # blocks in all stages: 74x EfficientNet-B7's 55, 80x ResNet-152's 50
LIMITS = {"repeats": 1024, "kernel": 31, "stride": 8, "channels": 32768, "groups": 32768, "expand": 64.0,
          "resolution": 8192}


# Training settings that specs written before issue 22 held next to the architecture: read and left out (they are
# `effnet.architecture.training_defaults.TrainingDefaults` now).
LEGACY_TRAINING_FIELDS = ("dropout", "drop_path", "bn_momentum")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _fmt(value: float) -> str:
    """Shortest decimal that round-trips (6 -> '6', 0.25 -> '0.25')."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Stage:
    """One row of the paper's Table 1: operator `op` repeated `repeats` times, `channels` outputs.

    `stride` applies to the first repeat only; `expand` is the MBConv expansion ratio; `se` the
    squeeze-excitation ratio relative to the block's *input* channels (0 = no SE)."""

    op: str
    repeats: int
    kernel: int
    stride: int
    channels: int
    expand: float = 1.0
    se: float = 0.0
    groups: int = 1
    skip: bool = True
    act: str | None = None  # overrides the network's activation for this stage

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9]*", self.op):
            raise SpecError(f"stage operator {self.op!r} must be lowercase letters/digits")
        for name in ("repeats", "kernel", "stride", "channels", "groups"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SpecError(f"stage {name} must be a positive integer, got {value!r}")
            if value > LIMITS[name]:
                raise SpecError(f"stage {name} = {value} is beyond the supported maximum {LIMITS[name]}")
        for name in ("expand", "se"):
            value = getattr(self, name)
            if not _is_number(value):
                raise SpecError(f"stage {name} must be a finite number, got {value!r}")
        if not 0 < self.expand <= LIMITS["expand"]:
            raise SpecError(f"stage expand ratio must be in (0, {LIMITS['expand']:g}], got {self.expand}")
        if not 0 <= self.se < 1:
            raise SpecError(f"stage SE ratio must be in [0, 1), got {self.se}")
        if not isinstance(self.skip, bool):
            raise SpecError(f"stage skip must be true or false, got {self.skip!r}")
        if self.act is not None and self.act not in ACTIVATIONS:
            raise SpecError(f"unknown activation {self.act!r}; choose from {', '.join(ACTIVATIONS)}")

    def replace_channels(self, channels: int) -> Stage:
        return self if channels == self.channels else replace(self, channels=channels)

    def replace_repeats(self, repeats: int) -> Stage:
        return self if repeats == self.repeats else replace(self, repeats=repeats)

    def encode(self) -> str:
        """Compact form, e.g. `mbconv_r2_k3_s2_e6_c24_se0.25`; `Stage.decode` inverts it exactly."""
        parts = [self.op, f"r{self.repeats}", f"k{self.kernel}", f"s{self.stride}", f"e{_fmt(self.expand)}",
                 f"c{self.channels}"]
        if self.se:
            parts.append(f"se{_fmt(self.se)}")
        if self.groups != 1:
            parts.append(f"g{self.groups}")
        if not self.skip:
            parts.append("noskip")
        if self.act:
            parts.append(f"a{self.act}")
        return "_".join(parts)

    @classmethod
    def decode(cls, text: str) -> Stage:
        """Parse the compact form written by `encode`."""
        if not isinstance(text, str) or len(text) > 200:
            raise SpecError(f"a stage must be a short string such as mbconv_r2_k3_s2_e6_c24, got {text!r:.80}")
        op, *tokens = text.strip().split("_")
        values: dict[str, Any] = {"op": op}
        for token in tokens:
            if token == "noskip":
                values["skip"] = False
                continue
            if token.startswith("a") and token[1:] in ACTIVATIONS:
                values["act"] = token[1:]
                continue
            match = _TOKEN.match(token)
            if not match:
                raise SpecError(f"cannot parse token {token!r} in stage string {text!r}")
            key, number = match.groups()
            if key in _INT_KEYS:
                if "." in number:
                    raise SpecError(f"{_INT_KEYS[key]} must be an integer in {text!r}")
                values[_INT_KEYS[key]] = int(number)
            else:
                values[_FLOAT_KEYS[key]] = float(number)
        missing = [name for name in ("repeats", "kernel", "stride", "channels") if name not in values]
        if missing:
            raise SpecError(f"stage string {text!r} lacks {', '.join(missing)}")
        return cls(**values)


@dataclass(frozen=True)
class NetSpec:
    """A whole network: stem stage, body stages, optional head stage, and what the weights need besides their
    shapes (activation, BatchNorm eps, padding).

    `resolution` is the input size the network was designed (or scaled) for; `padding="same"` reproduces
    TensorFlow's asymmetric padding. Training settings (dropout, drop path, BatchNorm momentum) are not part of a
    spec: they are the model's `TrainingDefaults` and the recipe's."""

    name: str
    stem: Stage
    stages: tuple[Stage, ...]
    head: Stage | None
    resolution: int = 224
    act: str = "silu"
    bn_eps: float = 1e-3
    padding: str = "symmetric"
    width_divisor: int = 8
    resolution_divisor: int = 4
    family: str = "efficientnet"
    fix_stem_head: bool = False
    fix_first_last_depth: bool = False
    stem_pool: bool = False
    coefficients: tuple[float, float, float] = (1.0, 1.0, 1.0)  # (depth, width, resolution) vs the base
    extra: tuple[tuple[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SpecError(f"spec name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.stem, Stage) or (self.head is not None and not isinstance(self.head, Stage)):
            raise SpecError("spec stem and head must be stages")
        if not isinstance(self.stages, tuple) or not all(isinstance(s, Stage) for s in self.stages):
            raise SpecError("spec stages must be a tuple of stages")
        if not self.stages:
            raise SpecError("a network needs at least one stage")
        if len(self.stages) > 256:
            raise SpecError(f"a network of {len(self.stages)} stages is beyond the supported maximum 256")
        blocks = sum(stage.repeats for stage in self.stages)
        if blocks > MAX_BLOCKS:
            raise SpecError(f"a network of {blocks:,} blocks is beyond the supported maximum {MAX_BLOCKS:,} "
                            "(building it would take minutes)")
        if not isinstance(self.resolution, int) or isinstance(self.resolution, bool):
            raise SpecError(f"input resolution must be an integer, got {self.resolution!r}")
        if not 8 <= self.resolution <= LIMITS["resolution"]:
            raise SpecError(f"input resolution must be in [8, {LIMITS['resolution']}], got {self.resolution}")
        if not _is_number(self.bn_eps):
            raise SpecError(f"bn_eps must be a finite number, got {self.bn_eps!r}")
        for name in ("width_divisor", "resolution_divisor"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 256:
                raise SpecError(f"{name} must be an integer in [1, 256], got {value!r}")
        if len(self.coefficients) != 3 or not all(_is_number(c) and c > 0 for c in self.coefficients):
            raise SpecError(f"coefficients must be three positive numbers, got {self.coefficients!r}")
        if self.act not in ACTIVATIONS:
            raise SpecError(f"unknown activation {self.act!r}; choose from {', '.join(ACTIVATIONS)}")
        if self.padding not in PADDINGS:
            raise SpecError(f"padding must be one of {', '.join(PADDINGS)}, got {self.padding!r}")
        if self.bn_eps <= 0:
            raise SpecError(f"bn_eps must be > 0, got {self.bn_eps}")

    @property
    def num_blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)

    @property
    def num_features(self) -> int:
        """Channels entering the classifier."""
        return (self.head or self.stages[-1]).channels

    def replace(self, **changes: Any) -> NetSpec:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stem"] = self.stem.encode()
        data["stages"] = [stage.encode() for stage in self.stages]
        data["head"] = self.head.encode() if self.head else None
        data["coefficients"] = list(self.coefficients)
        data["extra"] = [list(item) for item in self.extra]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NetSpec:
        """The inverse of `to_dict`; anything malformed is a `SpecError` naming the problem. An old-format spec
        (one that still holds training settings) is read too: they are left out (`legacy_training` has them)."""
        if not isinstance(data, dict):
            raise SpecError(f"a spec must be a JSON object, got {type(data).__name__}")
        values = {key: value for key, value in data.items() if key not in LEGACY_TRAINING_FIELDS}
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SpecError(f"unknown spec fields: {', '.join(sorted(unknown))}")
        try:
            stages = values["stages"]
            if not isinstance(stages, list) or not all(isinstance(text, str) for text in stages):
                raise SpecError("spec stages must be a list of stage strings")
            if len(stages) > 256:
                raise SpecError(f"a network of {len(stages)} stages is beyond the supported maximum 256")
            values["stem"] = Stage.decode(_text(values["stem"], "stem"))
            values["stages"] = tuple(Stage.decode(text) for text in stages)
            values["head"] = Stage.decode(_text(values["head"], "head")) if values.get("head") else None
        except KeyError as missing:
            raise SpecError(f"spec lacks field {missing}") from None
        if "coefficients" in values:
            coefficients = values["coefficients"]
            if not isinstance(coefficients, (list, tuple)) or not all(_is_number(v) for v in coefficients):
                raise SpecError(f"spec coefficients must be three numbers, got {coefficients!r}")
            values["coefficients"] = tuple(float(v) for v in coefficients)
        if "extra" in values:
            extra = values["extra"]
            if not isinstance(extra, list) or not all(isinstance(i, (list, tuple)) and len(i) == 2 for i in extra):
                raise SpecError("spec extra must be a list of [key, value] pairs")
            values["extra"] = tuple((str(k), v) for k, v in extra)
        for name, kind in (("name", str), ("act", str), ("padding", str), ("family", str), ("resolution", int),
                           ("width_divisor", int), ("resolution_divisor", int), ("fix_stem_head", bool),
                           ("fix_first_last_depth", bool), ("stem_pool", bool)):
            if name in values and (not isinstance(values[name], kind) or (kind is int and
                                                                            isinstance(values[name], bool))):
                raise SpecError(f"spec field {name} must be a {kind.__name__}, got {values[name]!r}")
        return cls(**values)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> NetSpec:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as error:
            raise SpecError(f"spec is not valid JSON: {error}") from None


def legacy_training(data: Any) -> dict[str, Any]:
    """The training settings an old-format spec dict held ({} for a current one or anything else): handed back by
    the readers of spec files, `save_pretrained` folders and trainer checkpoints as the model's training defaults."""
    if not isinstance(data, dict):
        return {}
    return {key: data[key] for key in LEGACY_TRAINING_FIELDS if key in data}


def current_format(value: Any) -> Any:
    """A JSON value (a study's recorded inputs, say) with every spec dict in it in the current format: the training
    settings old-format specs held left out, so that what they describe compares equal to what is written now."""
    if isinstance(value, dict):
        is_spec = "stem" in value and "stages" in value
        return {key: current_format(item) for key, item in value.items()
                if not (is_spec and key in LEGACY_TRAINING_FIELDS)}
    if isinstance(value, list):
        return [current_format(item) for item in value]
    return value


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise SpecError(f"spec {name} must be a stage string, got {type(value).__name__}")
    return value


_OP_NAMES = {"conv": "Conv{k}x{k}", "mbconv": "MBConv{e}, k{k}x{k}"}


def describe(stage: Stage) -> str:
    """Human name of a stage's operator in the paper's notation (`MBConv6, k3x3`)."""
    template = _OP_NAMES.get(stage.op, stage.op + ", k{k}x{k}")
    text = template.format(k=stage.kernel, e=_fmt(stage.expand))
    if stage.se:
        text += f", SE {_fmt(stage.se)}"
    return text
