"""Paper Table 4 latency method: batch 1, a fixed number of CPU threads (default 1), warm-up runs, then the
median and spread of >= 20 timed runs. What is timed is a *runner* (a no-argument callable doing one
inference), so other runtimes plug in by adding a factory to `RUNTIMES`; peers (timm, torchvision) building
the same architecture are timed in the same run when installed."""

from __future__ import annotations

import importlib.util
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ..architecture.profiling import images_per_batch
from ..architecture.spec import SpecError
from ..architecture.zoo import is_registered, normalize_name
from ..hub.loader import load_model
from .export import to_onnxruntime
from .inference import optimize_for_inference

Runner = Callable[[], object]
RunnerFactory = Callable[[nn.Module, int], Runner]
PEER_LIBRARIES = ("timm", "torchvision")

# effnet name -> (timm name, torchvision name); None where the library has no such architecture.
PEER_NAMES: dict[str, tuple[str | None, str | None]] = {
    **{f"efficientnet-b{i}": (f"efficientnet_b{i}", f"efficientnet_b{i}") for i in range(8)},
    **{f"efficientnet-lite{i}": (f"efficientnet_lite{i}", None) for i in range(5)},
    **{f"resnet{n}": (f"resnet{n}", f"resnet{n}") for n in (18, 34, 50, 101, 152)},
    "mobilenet-v1": ("mobilenetv1_100", None),
    "mobilenet-v2": ("mobilenetv2_100", "mobilenet_v2"),
    "shufflenet-v2-x0-5": (None, "shufflenet_v2_x0_5"),
    "shufflenet-v2-x1-0": (None, "shufflenet_v2_x1_0"),
    "squeezenet1-0": (None, "squeezenet1_0"),
    "squeezenet1-1": (None, "squeezenet1_1"),
    "xception": ("legacy_xception", None),
    "mnasnet-a1": ("semnasnet_100", None),  # timm's current name for mnasnet_a1
}


@dataclass(frozen=True)
class Timing:
    """Seconds per run of the timed runs (warm-up excluded) and their summary."""

    times: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def spread(self) -> tuple[float, float]:
        """Interquartile range (25th, 75th percentile)."""
        if len(self.times) < 2:
            return self.times[0], self.times[0]
        q = statistics.quantiles(self.times, n=4, method="inclusive")
        return q[0], q[2]


@dataclass(frozen=True)
class BenchRow:
    """One timed (model, library) pair; `ratio` is this row's median over effnet's for the same model."""

    model: str
    library: str
    resolution: int
    threads: int
    runs: int
    median_ms: float
    p25_ms: float
    p75_ms: float
    min_ms: float
    ratio: float | None = None


def time_runner(runner: Runner, *, runs: int = 20, warmup: int = 3) -> Timing:
    """Call `runner` `warmup` times untimed, then `runs` times timed with a monotonic clock."""
    if runs < 1 or warmup < 0:
        raise SpecError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        runner()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        runner()
        times.append(time.perf_counter() - start)
    return Timing(tuple(times))


def torch_runner(model: nn.Module, resolution: int) -> Runner:
    """Eager PyTorch inference of one random image (eval mode, no autograd)."""
    model.eval()
    channels = next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)
    image = torch.randn(1, channels, resolution, resolution)

    def run() -> object:
        with torch.inference_mode():
            return model(image)

    return run


def onnxruntime_runner(model: nn.Module, resolution: int) -> Runner:
    """ONNX Runtime inference of one random image: the model exported (and verified) to ONNX first."""
    session = to_onnxruntime(model, resolution=resolution, threads=torch.get_num_threads()).runner
    image = torch.randn(1, 3, resolution, resolution).numpy()

    def run() -> object:
        return session.run_numpy(image)

    return run


RUNTIMES: dict[str, RunnerFactory] = {"torch": torch_runner, "onnxruntime": onnxruntime_runner}


def peer_model(library: str, name: str) -> nn.Module | None:
    """The peer library's model of the same architecture (random weights), or None when the library is not
    installed or has no equivalent."""
    if library not in PEER_LIBRARIES:
        raise SpecError(f"unknown peer library {library!r}; choose from {', '.join(PEER_LIBRARIES)}")
    peer = peer_name(library, name)
    if peer is None or importlib.util.find_spec(library) is None:
        return None
    if library == "timm":
        import timm  # optional: a peer, not a dependency

        return timm.create_model(peer, pretrained=False)
    import torchvision.models  # slow to import; only needed to build its models

    return torchvision.models.get_model(peer, weights=None)


def peer_name(library: str, name: str) -> str | None:
    """The peer library's name for a registered effnet model, or None when it has no such architecture."""
    if not is_registered(name):
        return None
    return PEER_NAMES.get(normalize_name(name), (None, None))[PEER_LIBRARIES.index(library)]


def missing_peers(models: Iterable[str], compare: Sequence[str]) -> list[str]:
    """One note per requested peer that cannot be timed: not installed, or without a model's architecture."""
    notes = []
    for library in compare:
        if importlib.util.find_spec(library) is None:
            notes.append(f"{library} is not installed (pip install {library}); its rows are skipped")
            continue
        notes += [f"{library} has no {name}; that row is skipped" for name in models
                  if peer_name(library, name) is None]
    return notes


def bench(models: Iterable[str], *, resolution: int | None = None, threads: int = 1, runs: int = 20,
          warmup: int = 3, compare: Sequence[str] = (), runtime: str = "torch",
          optimize: bool = True) -> list[BenchRow]:
    """Time each model (and each `compare` library's version of it, interleaved with it) at batch 1 on
    `threads` CPU threads; peers without the architecture are skipped. effnet's model runs on its inference
    path (`optimize_for_inference`: BatchNorm folded, channels-last) unless `optimize=False`. `models` are
    registered names or spec files."""
    if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 256:
        raise SpecError(f"threads must be an integer in [1, 256], got {threads!r}")
    if runtime not in RUNTIMES:
        raise SpecError(f"unknown runtime {runtime!r}; choose from {', '.join(RUNTIMES)}")
    for library in compare:
        if library not in PEER_LIBRARIES:
            raise SpecError(f"unknown peer library {library!r}; choose from {', '.join(PEER_LIBRARIES)}")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    rows: list[BenchRow] = []
    try:
        for name in models:
            model = load_model(name)
            size = resolution or model.spec.resolution
            images_per_batch(model.spec, size, 1)  # refuses a size one image of which would exhaust memory
            if optimize and runtime == "torch":
                model = optimize_for_inference(model)
            contenders = [("effnet", model)]
            contenders += [(lib, peer) for lib in compare if (peer := peer_model(lib, name)) is not None]
            runners = [RUNTIMES[runtime](module, size) for _, module in contenders]
            timings = time_interleaved(runners, runs=runs, warmup=warmup)
            base = timings[0].median * 1e3
            label = (lambda lib: lib) if runtime == "torch" else (lambda lib: f"{lib} ({runtime})")
            rows += [_row(name, label(lib), size, threads, timing, base)
                     for (lib, _), timing in zip(contenders, timings)]
    finally:
        torch.set_num_threads(previous)
    return rows


def measure_latency(model: nn.Module, *, resolution: int | None = None, threads: int = 1, runs: int = 20,
                    warmup: int = 3) -> float:
    """Median milliseconds of one batch-1 inference on effnet's inference path (BatchNorm folded, channels-last,
    frozen graph) with `threads` CPU threads: the latency the scaling study and the architecture search use."""
    size = resolution or model.spec.resolution
    images_per_batch(model.spec, size, 1)  # refuses a size one image of which would exhaust memory
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        runner = torch_runner(optimize_for_inference(model), size)
        return round(time_interleaved([runner], runs=runs, warmup=warmup)[0].median * 1e3, 4)
    finally:
        torch.set_num_threads(previous)


def time_interleaved(runners: Sequence[Runner], *, runs: int = 20, warmup: int = 3) -> list[Timing]:
    """Time several runners round-robin (run i of each before run i + 1 of any), so a machine whose load
    drifts during the benchmark biases none of them; warm-up runs are untimed."""
    if runs < 1 or warmup < 0:
        raise SpecError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for runner in runners:
        for _ in range(warmup):
            runner()
    times: list[list[float]] = [[] for _ in runners]
    for _ in range(runs):
        for runner, record in zip(runners, times):
            start = time.perf_counter()
            runner()
            record.append(time.perf_counter() - start)
    return [Timing(tuple(record)) for record in times]


def _row(model: str, library: str, size: int, threads: int, timing: Timing, base_ms: float | None = None) -> BenchRow:
    p25, p75 = timing.spread
    median = timing.median * 1e3
    ratio = median / base_ms if base_ms else 1.0
    return BenchRow(model, library, size, threads, len(timing.times), round(median, 3), round(p25 * 1e3, 3),
                    round(p75 * 1e3, 3), round(min(timing.times) * 1e3, 3), round(ratio, 3))


def format_table(rows: Sequence[BenchRow]) -> str:
    """Aligned text table; `vs effnet` is the peer's median latency over effnet's (> 1: effnet faster)."""
    lines = [f"{'model':<20}{'library':<13}{'input':>6}{'thr':>4}{'runs':>5}{'median ms':>11}{'IQR ms':>18}"
             f"{'vs effnet':>10}"]
    for r in rows:
        iqr = f"{r.p25_ms:.1f}-{r.p75_ms:.1f}"
        lines.append(f"{r.model:<20}{r.library:<13}{r.resolution:>6}{r.threads:>4}{r.runs:>5}{r.median_ms:>11.2f}"
                     f"{iqr:>18}{r.ratio if r.ratio is not None else float('nan'):>10.2f}")
    return "\n".join(lines)


def rows_to_dicts(rows: Sequence[BenchRow]) -> list[dict[str, Any]]:
    return [asdict(row) for row in rows]
