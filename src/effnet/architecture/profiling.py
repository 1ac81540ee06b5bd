"""Paper Tables 2/3: parameters, multiply-accumulates and activations of a network, analytic from its spec.

The counting conventions are in `effnet.architecture.cost`. `profile` computes these from the spec without running the
network, with each operator's registered cost formula; `measure` counts them with forward hooks on a built module,
which the tests use to check the analytic formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from . import blocks  # noqa: F401  (registers the built-in operators)
from .cost import Site, Tally, pool_size
from .operators import get_operator
from .spec import NetSpec, SpecError, Stage, describe
from .zoo import SpecSource, get_spec


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
    tally = Tally()
    return tally, get_operator(stage.op).count(stage, site, tally)


def analyze(spec: NetSpec, resolution: int | None = None, *, num_classes: int = 1000, in_chans: int = 3) -> Profile:
    """Analytic profile of `spec` at `resolution` (default: the spec's own) without building it."""
    size = resolution or spec.resolution
    if not isinstance(size, int) or isinstance(size, bool) or not 8 <= size <= 16384:
        raise SpecError(f"resolution must be an integer in [8, 16384], got {size!r}")
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


# Activations of one image (the analytic count of `analyze`) that effnet runs a network on: 2^30 is 4 GiB in fp32
# (B7 at 1024 px needs 0.84e9). A resolution -- a hostile config.json's too -- asking for more is refused at once
# instead of exhausting memory, and batches are cut so that a whole batch stays within it.
MAX_ACTIVATIONS = 1 << 30


def images_per_batch(spec: NetSpec, resolution: int, wanted: int) -> int:
    """How many images of `resolution` px to run `spec` on at once, at most `wanted` (and at least 1); a
    `SpecError` when a single image already needs more than `MAX_ACTIVATIONS`."""
    per_image = analyze(spec, int(resolution)).activations
    if per_image > MAX_ACTIVATIONS:
        raise SpecError(f"{spec.name} at {resolution} px needs about {4 * per_image / 2**30:.0f} GiB of activations "
                        f"per image, beyond the supported {4 * MAX_ACTIVATIONS / 2**30:.0f} GiB; use a smaller input "
                        "size")
    return max(1, min(int(wanted), MAX_ACTIVATIONS // max(per_image, 1)))


def profile(model_or_spec_or_name: nn.Module | SpecSource, resolution: int | None = None, *,
            num_classes: int | None = None) -> Profile:
    """Params, MACs (multiply-adds, the paper's FLOPS), activations and per-stage rows of a model name, a spec
    file, a spec or a built model. Specs and effnet models are counted analytically; other modules by `measure`."""
    if not isinstance(model_or_spec_or_name, nn.Module):
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
    raise SpecError(f"profile() needs a model name, spec file, NetSpec or nn.Module, got "
                    f"{type(model_or_spec_or_name).__name__}")
