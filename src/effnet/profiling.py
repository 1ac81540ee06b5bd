"""Paper Tables 2/3: parameters, multiply-accumulates and activations of a network, analytic from its spec.

Conventions (the paper's "FLOPS" are multiply-adds, and torchvision's `gmacs` count the same thing):
- `macs`: multiply-accumulates of every Conv2d and Linear layer (k*k*C_in/groups per output element; a
  Linear counts in*out). Biases, BatchNorm, activations, pooling, SE gating and residual adds are not counted.
- `params`: every trainable parameter (conv/linear weights and biases, BatchNorm affine weights).
- `activations`: elements of the output of every Conv2d and Linear layer for one image (Dollar et al. 2021's
  memory-relevant figure; BN/activation outputs of the same shape are not counted again).
`profile` computes these from the spec without running the network; `measure` counts them with forward hooks
on a built module, which the tests use to check the analytic formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from .spec import NetSpec, SpecError, Stage, describe


class Tally:
    """Running totals of one part of a network; block counters add their layers here."""

    def __init__(self) -> None:
        self.params = 0
        self.macs = 0
        self.activations = 0

    def conv(self, cin: int, cout: int, kernel: int, size: int, stride: int = 1, *, groups: int = 1,
             bias: bool = False, bn: bool = True, pad: int | None = None) -> int:
        """Count a square Conv2d (+ BatchNorm); return its output size."""
        pad = (kernel - 1) // 2 if pad is None else pad
        out = (size + 2 * pad - kernel) // stride + 1
        if out < 1:
            raise SpecError(f"a {kernel}x{kernel} conv gets a {size}x{size} input: the resolution is too small")
        weights = cout * (cin // groups) * kernel * kernel
        self.params += weights + (cout if bias else 0) + (2 * cout if bn else 0)
        self.macs += out * out * weights
        self.activations += out * out * cout
        return out

    def linear(self, cin: int, cout: int) -> None:
        """Count a Linear layer with bias applied to a vector."""
        self.params += cin * cout + cout
        self.macs += cin * cout
        self.activations += cout

    def add(self, other: Tally, times: int = 1) -> None:
        self.params += other.params * times
        self.macs += other.macs * times
        self.activations += other.activations * times


def pool_size(size: int, kernel: int, stride: int, pad: int = 0, ceil: bool = False) -> int:
    """Output size of a max/avg pool (PyTorch's formula, including ceil_mode)."""
    span = size + 2 * pad - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    if ceil and (out - 1) * stride >= size + pad:
        out -= 1
    if out < 1:
        raise SpecError(f"a {kernel}x{kernel} pool gets a {size}x{size} input: the resolution is too small")
    return out


@dataclass(frozen=True)
class Site:
    """Where a block sits: input channels, input size and its stride (only the first repeat strides)."""

    in_ch: int
    size: int
    stride: int


Counter = Callable[[Stage, Site, Tally], int]
COUNTERS: dict[str, Counter] = {}


def register_counter(op: str) -> Callable[[Counter], Counter]:
    """Decorator: the analytic cost of operator `op` (adds to the tally, returns the output size)."""

    def add(counter: Counter) -> Counter:
        COUNTERS[op] = counter
        return counter

    return add


@register_counter("conv")
def _count_conv(stage: Stage, site: Site, tally: Tally) -> int:
    return tally.conv(site.in_ch, stage.channels, stage.kernel, site.size, site.stride, groups=stage.groups)


@register_counter("mbconv")
def _count_mbconv(stage: Stage, site: Site, tally: Tally) -> int:
    mid = int(round(site.in_ch * stage.expand))
    size = site.size
    if stage.expand != 1:
        tally.conv(site.in_ch, mid, 1, size)
    size = tally.conv(mid, mid, stage.kernel, size, site.stride, groups=mid)
    if stage.se > 0:
        squeeze = max(1, int(site.in_ch * stage.se))
        tally.conv(mid, squeeze, 1, 1, bias=True, bn=False)
        tally.conv(squeeze, mid, 1, 1, bias=True, bn=False)
    return tally.conv(mid, stage.channels, 1, size)


@dataclass(frozen=True)
class ProfileRow:
    """One row of the per-stage breakdown (stem, each stage with all its repeats, head, classifier)."""

    name: str
    operator: str
    repeats: int
    in_size: int
    out_size: int
    channels: int
    params: int
    macs: int
    activations: int


@dataclass(frozen=True)
class Profile:
    """Totals and per-stage rows; `macs` are multiply-accumulates (the paper's FLOPS)."""

    name: str
    resolution: int
    params: int
    macs: int
    activations: int
    rows: tuple[ProfileRow, ...] = field(default=())

    @property
    def gmacs(self) -> float:
        return self.macs / 1e9

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "resolution": self.resolution, "params": self.params, "macs": self.macs,
                "activations": self.activations, "rows": [asdict(row) for row in self.rows]}

    def table(self) -> str:
        """The per-stage breakdown and totals as aligned text."""
        head = (f"{'row':<11}{'operator':<26}{'layers':>6}{'input':>9}{'channels':>9}{'params':>13}"
                f"{'MMACs':>11}{'activations':>13}")
        lines = [f"{self.name} at {self.resolution}x{self.resolution}", head]
        for r in self.rows:
            size = f"{r.in_size}x{r.in_size}"
            lines.append(f"{r.name:<11}{r.operator[:25]:<26}{r.repeats:>6}{size:>9}{r.channels:>9}{r.params:>13,}"
                         f"{r.macs / 1e6:>11.1f}{r.activations:>13,}")
        lines.append(f"total: {self.params:,} parameters, {self.gmacs:.3f} GMACs (multiply-adds), "
                     f"{self.activations / 1e6:.2f}M activations")
        return "\n".join(lines)


def _count(stage: Stage, site: Site) -> tuple[Tally, int]:
    if stage.op not in COUNTERS:
        raise SpecError(f"no cost formula is registered for operator {stage.op!r}")
    tally = Tally()
    return tally, COUNTERS[stage.op](stage, site, tally)


def analyze(spec: NetSpec, resolution: int | None = None, *, num_classes: int = 1000, in_chans: int = 3) -> Profile:
    """Analytic profile of `spec` at `resolution` (default: the spec's own) without building it."""
    size = resolution or spec.resolution
    if not isinstance(size, int) or size < 8:
        raise SpecError(f"resolution must be an integer >= 8, got {size!r}")
    rows: list[ProfileRow] = []

    def row(name: str, stage: Stage, tally: Tally, in_size: int, out_size: int, repeats: int = 1) -> None:
        rows.append(ProfileRow(name, describe(stage), repeats, in_size, out_size, stage.channels, tally.params,
                               tally.macs, tally.activations))

    tally, out = _count(spec.stem, Site(in_chans, size, spec.stem.stride))
    if spec.stem_pool:
        out = pool_size(out, 3, 2, 1)
    row("stem", spec.stem, tally, size, out)
    in_ch, size = spec.stem.channels, out
    for index, stage in enumerate(spec.stages):
        tally, out = _count(stage, Site(in_ch, size, stage.stride))
        if stage.repeats > 1:
            rest, rest_out = _count(stage, Site(stage.channels, out, 1))
            if rest_out == out:  # identical repeats: count one, multiply
                tally.add(rest, stage.repeats - 1)
            else:  # repeats that shrink the map (unpadded convs): count each
                tally.add(rest)
                for _ in range(stage.repeats - 2):
                    rest, rest_out = _count(stage, Site(stage.channels, rest_out, 1))
                    tally.add(rest)
            out = rest_out
        row(f"stages.{index}", stage, tally, size, out, stage.repeats)
        in_ch, size = stage.channels, out
    if spec.head is not None:
        tally, out = _count(spec.head, Site(in_ch, size, spec.head.stride))
        row("head", spec.head, tally, size, out)
        size = out
    if num_classes:
        tally = Tally()
        tally.linear(spec.num_features, num_classes)
        rows.append(ProfileRow("classifier", "Pooling & FC", 1, size, 1, num_classes, tally.params, tally.macs,
                               tally.activations))
    return Profile(spec.name, resolution or spec.resolution, sum(r.params for r in rows),
                   sum(r.macs for r in rows), sum(r.activations for r in rows), tuple(rows))


def _first_conv_channels(model: nn.Module) -> int:
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module.in_channels
    return 3


def _groups(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Top-level children, with an EffNet's `stages` split into one group per stage."""
    groups: list[tuple[str, nn.Module]] = []
    for name, child in model.named_children():
        if name == "stages" and isinstance(child, nn.Sequential):
            groups.extend((f"stages.{i}", stage) for i, stage in enumerate(child))
        else:
            groups.append((name, child))
    return groups


def measure(model: nn.Module, resolution: int = 224, *, in_chans: int | None = None) -> Profile:
    """Count params/MACs/activations of a built module with forward hooks on Conv2d and Linear layers
    (one image of `resolution` x `resolution`); rows are the model's top-level children. A model on the
    `meta` device is measured without computing anything (shapes only)."""
    if not isinstance(resolution, int) or resolution < 8:
        raise SpecError(f"resolution must be an integer >= 8, got {resolution!r}")
    totals: dict[str, list[int]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    handles = []

    def layer_hook(group: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            count = totals[group]
            if isinstance(module, nn.Conv2d):
                kh, kw = module.kernel_size
                count[0] += output[0].numel() * (module.in_channels // module.groups) * kh * kw
            else:
                count[0] += output[0].numel() * module.in_features
            count[1] += output[0].numel()
        return hook

    def group_hook(group: str) -> Callable[..., None]:
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            def side(t: torch.Tensor) -> int:
                return t.shape[-1] if t.dim() == 4 else 1
            sizes[group] = (side(inputs[0]), side(output))
        return hook

    groups = _groups(model)
    for group, child in groups:
        totals[group] = [0, 0]
        handles.append(child.register_forward_hook(group_hook(group)))
        for module in child.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                handles.append(module.register_forward_hook(layer_hook(group)))
    was_training = model.training
    channels = in_chans or _first_conv_channels(model)
    try:
        model.eval()
        with torch.no_grad():
            device = next((p.device for p in model.parameters()), torch.device("cpu"))
            model(torch.zeros(1, channels, resolution, resolution, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    rows = []
    for group, child in groups:
        params = sum(p.numel() for p in child.parameters())
        macs, acts = totals[group]
        if not (params or macs):
            continue
        in_size, out_size = sizes.get(group, (0, 0))
        rows.append(ProfileRow(group, type(child).__name__, len(child) if isinstance(child, nn.Sequential) else 1,
                               in_size, out_size, 0, params, macs, acts))
    name = getattr(getattr(model, "spec", None), "name", type(model).__name__)
    return Profile(name, resolution, sum(p.numel() for p in model.parameters()), sum(r.macs for r in rows),
                   sum(r.activations for r in rows), tuple(rows))


def profile(model_or_spec_or_name: nn.Module | NetSpec | str, resolution: int | None = None, *,
            num_classes: int | None = None) -> Profile:
    """Params, MACs (multiply-adds, the paper's FLOPS), activations and per-stage rows of a model name, a
    spec or a built model. Specs and effnet models are counted analytically; other modules by `measure`."""
    if isinstance(model_or_spec_or_name, str):
        from .zoo import get_spec

        model_or_spec_or_name = get_spec(model_or_spec_or_name)
    if isinstance(model_or_spec_or_name, NetSpec):
        return analyze(model_or_spec_or_name, resolution, num_classes=1000 if num_classes is None else num_classes)
    if isinstance(model_or_spec_or_name, nn.Module):
        model = model_or_spec_or_name
        spec = getattr(model, "spec", None)
        if isinstance(spec, NetSpec) and hasattr(model, "classifier") and num_classes is None:
            return analyze(spec, resolution, num_classes=getattr(model, "num_classes", 1000),
                           in_chans=_first_conv_channels(model))
        return measure(model, resolution or (spec.resolution if isinstance(spec, NetSpec) else 224))
    raise SpecError(f"profile() needs a model name, NetSpec or nn.Module, got {type(model_or_spec_or_name).__name__}")
