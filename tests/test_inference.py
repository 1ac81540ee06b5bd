"""optimize_for_inference: BatchNorm folded, numerically equal, the caller's model untouched."""

from __future__ import annotations

import contextlib
import warnings

import pytest
import torch
from torch import nn

import effnet
from effnet.architecture.layers import SqueezeExcite
from effnet.deploy.inference import (
    FrozenShapes,
    VectorSqueezeExcite,
    fold_batchnorm,
    fuse_conv_bn,
    optimize_for_inference,
    vectorize_squeeze_excite,
)


def tiny(name: str = "efficientnet-b0", **overrides) -> nn.Module:
    spec = effnet.scale(effnet.get_spec(name), width=0.25, depth=0.25, image_size=64).replace(**overrides)
    torch.manual_seed(0)  # the same weights whatever ran before (tests must not depend on their order)
    model = effnet.build(spec, num_classes=10)
    for module in model.modules():  # non-trivial statistics, so folding has something to get wrong
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.3, 0.3)
    return model.eval()


@pytest.mark.parametrize("name", ["efficientnet-b0", "efficientnet-lite0"])
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("backend", ["eager", "trace"])
def test_folded_equals_original(name: str, channels_last: bool, backend: str) -> None:
    model = tiny(name)
    fast = optimize_for_inference(model, channels_last=channels_last, backend=backend)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), fast(x)
        assert (got - expected).abs().max() <= 1e-4
        features = fast.forward_features(x)
        assert (fast.forward_head(features) - expected).abs().max() <= 1e-4
    assert not fast.training


@pytest.mark.parametrize("batch", [1, 3])
def test_vector_squeeze_excite_equals_the_conv_form(batch: int) -> None:
    torch.manual_seed(0)
    se = SqueezeExcite(24, 6, "silu").eval()
    vector = VectorSqueezeExcite(se)
    x = torch.randn(batch, 24, 9, 7)
    with torch.no_grad():
        expected = se(x)
        assert (vector(x.clone()) - expected).abs().max() <= 1e-6
        assert (vector(x.contiguous(memory_format=torch.channels_last)) - expected).abs().max() <= 1e-6


def test_frozen_graph_path_has_vector_squeeze_excite_and_stays_equal() -> None:
    model = tiny()
    fast = optimize_for_inference(model, backend="trace")
    count = sum(isinstance(m, SqueezeExcite) for m in model.modules())
    assert count > 0 and sum(isinstance(m, VectorSqueezeExcite) for m in fast.modules()) == count
    assert not any(type(m) is SqueezeExcite for m in fast.modules())
    with torch.no_grad():
        for batch in (1, 3):  # one image takes the matrix-vector path, more take the convs
            x = torch.randn(batch, 3, 64, 64)
            assert (fast(x) - model(x)).abs().max() <= 1e-4
    assert vectorize_squeeze_excite(nn.Sequential(nn.Conv2d(3, 3, 1))) == 0
    eager = optimize_for_inference(model, backend="eager")  # what export uses: no shape-dependent branch
    assert sum(type(m) is SqueezeExcite for m in eager.modules()) == count


def test_same_padding_model_folds_too() -> None:
    model = tiny(padding="same")
    fast = optimize_for_inference(model)
    x = torch.randn(1, 3, 65, 63)
    with torch.no_grad():
        assert (fast(x) - model(x)).abs().max() <= 1e-4


def test_frozen_graph_per_thread_count() -> None:
    """oneDNN compiles fused kernels for the thread count of their first run, so changing
    `torch.set_num_threads` gets a new graph instead of a stale single-threaded one."""
    model = tiny()
    fast = optimize_for_inference(model)
    x = torch.randn(1, 3, 64, 64)
    before = torch.get_num_threads()
    try:
        with torch.no_grad():
            for threads in (1, 2, 1):
                torch.set_num_threads(threads)
                assert (fast(x) - model(x)).abs().max() <= 1e-4
    finally:
        torch.set_num_threads(before)
    assert [key[-1] for key in fast._graphs] == [2, 1]


def test_cpu_default_is_a_frozen_graph_per_input_shape() -> None:
    """TF 'same' padding depends on the input size, which a trace bakes in: each shape gets its own graph, so
    every size and batch stays right, and the least recently used graphs are dropped beyond `max_graphs`."""
    model = tiny(padding="same")
    fast = optimize_for_inference(model)
    assert isinstance(fast, FrozenShapes) and not fast.training
    assert fast.spec == model.spec and fast.num_classes == 10  # attributes come from the eager model
    fast.max_graphs = 2
    shapes = [(1, 3, 64, 64), (3, 3, 65, 63), (1, 3, 64, 64), (2, 3, 71, 70)]
    with torch.no_grad():
        for shape in shapes:
            x = torch.randn(shape)
            assert (fast(x) - model(x)).abs().max() <= 1e-4, shape
    assert [key[0] for key in fast._graphs] == [(1, 3, 64, 64), (2, 3, 71, 70)]
    x = torch.randn(1, 3, 64, 64)
    with torch.inference_mode():  # what benchmarks may call it under
        assert (fast(x) - model(x)).abs().max() <= 1e-4
    fast.eval()
    with pytest.raises(RuntimeError, match="cannot train"):
        fast.train()


def test_untraceable_model_falls_back_to_eager_with_a_warning() -> None:
    class DataDependent(nn.Module):  # stands for any model that tracing cannot handle
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            if torch.jit.is_tracing():
                raise RuntimeError("not traceable")
            return x * 2

    fast = optimize_for_inference(DataDependent())
    x = torch.randn(1, 3, 8, 8)
    with pytest.warns(UserWarning, match="no frozen graph .* not traceable"):
        assert torch.equal(fast(x), x * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the verdict is remembered for the shape: no second warning
        assert torch.equal(fast(x), x * 2)


def test_a_fuser_failure_falls_back_to_the_unfused_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    """oneDNN Graph can fail on a layout it does not support (seen for ShuffleNetV2's channel shuffle): the
    unfused frozen graph is used then, silently, and still equals the eager model."""
    import effnet.deploy.inference as inference

    real = inference._onednn_fusion

    @contextlib.contextmanager
    def broken(x: torch.Tensor, enabled: bool = True):
        if enabled:
            raise RuntimeError("could not create a primitive descriptor")
        with real(x, enabled):
            yield

    monkeypatch.setattr(inference, "_onednn_fusion", broken)
    model = tiny()
    fast = optimize_for_inference(model)
    x = torch.randn(1, 3, 64, 64)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("error")
        assert (fast(x) - model(x)).abs().max() <= 1e-4
    graph, fused = next(iter(fast._graphs.values()))
    assert graph is not None and not fused


@pytest.mark.parametrize("name", ["shufflenet-v2-x0-5", "squeezenet1-1", "mobilenet-v1", "mobilenet-v2", "resnet50",
                                  "xception",
                                  "mnasnet-a1"])
def test_every_zoo_family_runs_on_the_fast_path(name: str) -> None:
    spec = effnet.get_spec(name)
    model = effnet.build(spec.replace(resolution=64), num_classes=10).eval()
    fast = optimize_for_inference(model)
    x = torch.randn(2, 3, 64, 64)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("error")  # a fallback to eager would warn
        assert (fast(x) - model(x)).abs().max() <= 1e-4 * max(1.0, float(model(x).abs().max()))


def test_unknown_backend_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown inference backend"):
        optimize_for_inference(tiny(), backend="tensorrt")


def test_callers_model_is_not_changed() -> None:
    model = tiny().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimize_for_inference(model)
    assert model.training
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) > 0
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_fuse_conv_with_bias_and_sequential() -> None:
    torch.manual_seed(1)
    conv, bn = nn.Conv2d(4, 6, 3, padding=1, bias=True), nn.BatchNorm2d(6)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.2, 3)
    net = nn.Sequential(conv, bn, nn.ReLU()).eval()
    x = torch.randn(3, 4, 8, 8)
    with torch.no_grad():
        expected = net(x)
        assert (fuse_conv_bn(conv, bn)(x) - bn(conv(x))).abs().max() <= 1e-5
        assert fold_batchnorm(net) == 1
        assert isinstance(net[1], nn.Identity) and net[0].bias is not None
        assert (net(x) - expected).abs().max() <= 1e-5


def test_predict_paths_agree(tmp_path, capsys) -> None:
    """`effnet predict` runs the optimized model by default; --runtime onnxruntime and --no-optimize agree."""
    import json

    import numpy as np
    from PIL import Image

    from effnet.cli import main
    from effnet.hub.weights import save_pretrained

    save_pretrained(tiny(), tmp_path / "saved")
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90, 3), dtype=np.uint8)).save(image)
    outputs = []
    for extra in ([], ["--no-optimize"], ["--runtime", "onnxruntime"]):
        assert main(["predict", str(image), "--weights", str(tmp_path / "saved"), "--json", *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out)[0]["top"])
    for other in outputs[1:]:
        assert [row["index"] for row in other] == [row["index"] for row in outputs[0]]
        assert all(abs(a["prob"] - b["prob"]) < 1e-4 for a, b in zip(other, outputs[0]))
