"""Inference path: an eval-mode copy of a model with every BatchNorm folded into the convolution before it,
in channels-last memory format, run on the CPU through a TorchScript graph frozen for each input shape.

Folding is exact algebra (conv followed by an affine per-channel map is one conv with a bias), so the folded
model computes the same function; only float rounding differs (well under 1e-4 on logits). The frozen graph
removes Python's per-module overhead, pre-packs the constant weights and, through oneDNN Graph, fuses each
convolution with its bias, activation and residual add; at batch 1 on a CPU that is worth more than the folding
(BENCHMARKS.md)."""

from __future__ import annotations

import contextlib
import copy
import itertools
import warnings
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from ..architecture.layers import ConvBNAct, SqueezeExcite


@torch.no_grad()
def fuse_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new `nn.Conv2d` (with bias) equal to `bn(conv(x))` for an eval-mode BatchNorm; computed in float64."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics")
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                      conv.dilation, conv.groups, bias=True, padding_mode=conv.padding_mode,
                      device=conv.weight.device, dtype=conv.weight.dtype)
    var, mean = bn.running_var.double(), bn.running_mean.double()
    gamma = bn.weight.double() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.double() if bn.bias is not None else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    bias = conv.bias.double() if conv.bias is not None else torch.zeros_like(mean)
    fused.weight.copy_((conv.weight.double() * scale.reshape(-1, 1, 1, 1)).to(conv.weight.dtype))
    fused.bias.copy_(((bias - mean) * scale + beta).to(conv.weight.dtype))
    return fused


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and type(bn) is nn.BatchNorm2d and bn.running_mean is not None
            and conv.out_channels == bn.num_features)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold BatchNorms into their convolutions *in place* (eval semantics); returns the number folded.

    Handles `ConvBNAct` (conv -> bn) and any `nn.Sequential` holding a Conv2d directly followed by a
    BatchNorm2d; other BatchNorms are left as they are (still correct, just not folded)."""
    folded = 0
    for module in list(model.modules()):
        if isinstance(module, ConvBNAct) and _foldable(module.conv, module.bn):
            module.conv = fuse_conv_bn(module.conv, module.bn)
            module.bn = nn.Identity()
            folded += 1
        elif isinstance(module, nn.Sequential):
            names = list(module._modules)
            for first, second in itertools.pairwise(names):
                conv, bn = module._modules[first], module._modules[second]
                if conv is not None and bn is not None and _foldable(conv, bn):
                    module._modules[first] = fuse_conv_bn(conv, bn)
                    module._modules[second] = nn.Identity()
                    folded += 1
    return folded


class VectorSqueezeExcite(nn.Module):
    """Squeeze-and-excitation for inference. For a single image the excitation (two 1x1 convs on a 1x1 map)
    is two matrix-vector products on the pooled vector (the mean's 1 / (H * W) folded into the first) and the
    gate is applied in place; the oneDNN fuser leaves these to ATen instead of launching two tiny fused-conv
    partitions per block. Same function, about 4% less EfficientNet-B1 batch-1 latency on one core
    (BENCHMARKS.md). Batches of more images use the convs. Only for a block's own intermediate tensor."""

    def __init__(self, se: SqueezeExcite) -> None:
        super().__init__()
        self.reduce, self.act, self.expand, self.gate = se.reduce, se.act, se.expand, se.gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] != 1:
            return SqueezeExcite.forward(self, x)  # type: ignore[arg-type]  # the same submodules
        total = x.sum((2, 3)).view(-1)
        inverse_area = 1.0 / float(x.shape[2] * x.shape[3])
        hidden = self.act(torch.addmv(self.reduce.bias, self.reduce.weight.flatten(1), total, alpha=inverse_area))
        scale = self.gate(torch.addmv(self.expand.bias, self.expand.weight.flatten(1), hidden))
        return x.mul_(scale.view(1, -1, 1, 1))


def vectorize_squeeze_excite(model: nn.Module) -> int:
    """Swap every `SqueezeExcite` for a `VectorSqueezeExcite` in place; returns how many were swapped."""
    swapped = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is SqueezeExcite:
                setattr(parent, name, VectorSqueezeExcite(child))
                swapped += 1
    return swapped


BACKENDS = ("auto", "eager", "trace", "compile")


class FrozenShapes(nn.Module):
    """Runs a folded eval-mode model through `torch.jit.trace` + `torch.jit.freeze`, one frozen graph per input
    shape, dtype, device and intra-op thread count (oneDNN compiles its fused kernels for the thread count of
    the first run: a graph built at one thread stays single-threaded); the most recent `max_graphs` are kept.

    Each new graph is checked once against the eager model on the input that created it: oneDNN-fused first,
    then unfused, and if neither traces or agrees (max abs difference over 1e-4 of the output scale), the eager
    model runs that shape, with one warning. Other attributes (`spec`, `preprocessing`, `forward_features`,
    ...) are the eager model's, so the wrapper is a drop-in replacement for inference."""

    def __init__(self, module: nn.Module, *, channels_last: bool = True, max_graphs: int = 8) -> None:
        super().__init__()
        self.module = module.eval()
        self.channels_last = channels_last
        self.max_graphs = max_graphs
        self._graphs: OrderedDict[tuple[Any, ...], tuple[Any, bool]] = OrderedDict()
        self.training = False

    def train(self, mode: bool = True) -> FrozenShapes:
        """Inference only: `train(False)` is accepted, `train(True)` is an error (the graphs are frozen)."""
        if mode:
            raise RuntimeError("an optimize_for_inference model cannot train; optimize a copy after training")
        return self

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(super().__getattr__("module"), name)

    def _build(self, x: torch.Tensor) -> tuple[Any, bool]:
        """A checked frozen graph for `x`'s shape and whether it runs oneDNN-fused; (None, False) = eager."""
        expected = _tensors(self.module(x))
        problems = []
        for fused in (True, False):
            try:
                with warnings.catch_warnings():  # TorchScript is deprecated upstream; tracing warns on shapes
                    warnings.simplefilter("ignore")
                    graph = torch.jit.freeze(torch.jit.trace(self.module, x, check_trace=False))
                    with _onednn_fusion(x, fused):
                        for _ in range(2):  # the profiling executor specialises, then fuses and optimises
                            got = _tensors(graph(x))
            except Exception as error:  # TorchScript missing, the model not traceable, a fuser bug
                problems.append(f"{type(error).__name__}: {str(error).strip().splitlines()[-1] if str(error) else ''}")
                continue
            if _agree(got, expected):
                return graph, fused
            problems.append("the traced graph's output differs from the eager model's")
        warnings.warn(f"optimize_for_inference: no frozen graph for input shape {tuple(x.shape)} "
                      f"({'; '.join(problems)}); running the eager model for it", stacklevel=3)
        return None, False

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> Any:
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        key = (tuple(x.shape), x.dtype, x.device, torch.get_num_threads())
        if key in self._graphs:
            self._graphs.move_to_end(key)
            graph, fused = self._graphs[key]
        else:
            graph, fused = self._graphs[key] = self._build(x)
            while len(self._graphs) > self.max_graphs:
                self._graphs.popitem(last=False)
        if graph is None:
            return self.module(x)
        with _onednn_fusion(x, fused):
            return graph(x)


def _tensors(output: Any) -> list[torch.Tensor]:
    """The tensors of a model output (a tensor, or a list/tuple of them as `features_only` gives)."""
    if isinstance(output, torch.Tensor):
        return [output]
    return [t for item in output for t in _tensors(item)]


def _agree(got: list[torch.Tensor], expected: list[torch.Tensor], tolerance: float = 1e-4) -> bool:
    if len(got) != len(expected):
        return False
    for a, b in zip(got, expected):
        if a.shape != b.shape:
            return False
        scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
        if b.numel() and float((a - b).abs().max()) > tolerance * scale:
            return False
    return True


@contextlib.contextmanager
def _onednn_fusion(x: torch.Tensor, enabled: bool = True) -> Iterator[None]:
    """Turn on TorchScript's oneDNN Graph fuser (conv + bias + activation + add in one kernel) for a float32
    CPU input while our graph runs, and restore the process-wide flag afterwards, so other TorchScript code
    in the process is unaffected."""
    toggle = getattr(torch._C, "_jit_set_llga_enabled", None)
    if not enabled or toggle is None or x.device.type != "cpu" or x.dtype != torch.float32:
        yield
        return
    previous = torch._C._jit_llga_enabled()
    toggle(True)
    try:
        yield
    finally:
        toggle(previous)


def optimize_for_inference(model: nn.Module, *, channels_last: bool = True, backend: str = "auto") -> nn.Module:
    """A fast, numerically equal copy of `model` for inference (the caller's model is not changed).

    The copy is in eval mode with BatchNorm folded into the preceding convs, optionally in channels-last memory
    format. `backend`: `eager` returns that module; `trace` computes squeeze-excitation on vectors for single
    images (`VectorSqueezeExcite`) and wraps the module in `FrozenShapes` (a frozen TorchScript graph per input
    shape); `compile` wraps it in `torch.compile` (slow to start: tens of seconds per shape); `auto` is `trace`
    on the CPU and `eager` elsewhere."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown inference backend {backend!r}; choose from {', '.join(BACKENDS)}")
    was_training = model.training
    model.eval()
    try:
        fast = copy.deepcopy(model)
    finally:
        model.train(was_training)
    for param in fast.parameters():
        param.requires_grad_(False)
    fold_batchnorm(fast)
    if channels_last:
        fast = fast.to(memory_format=torch.channels_last)
    fast.eval()
    if backend == "auto":
        on_cpu = all(p.device.type == "cpu" for p in itertools.chain(fast.parameters(), fast.buffers()))
        backend = "trace" if on_cpu else "eager"
    if backend == "trace":  # each graph is traced for one shape, so the batch-of-one branch is resolved there
        vectorize_squeeze_excite(fast)
        return FrozenShapes(fast, channels_last=channels_last)
    if backend == "compile":
        return torch.compile(fast)  # type: ignore[return-value]
    return fast


__all__ = ["BACKENDS", "FrozenShapes", "VectorSqueezeExcite", "fold_batchnorm", "fuse_conv_bn",
           "optimize_for_inference", "vectorize_squeeze_excite"]
