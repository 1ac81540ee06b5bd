"""optimize_for_inference: BatchNorm folded, numerically equal, the caller's model untouched."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import effnet
from effnet.inference import fold_batchnorm, fuse_conv_bn, optimize_for_inference


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
def test_folded_equals_original(name: str, channels_last: bool) -> None:
    model = tiny(name)
    fast = optimize_for_inference(model, channels_last=channels_last)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected, got = model(x), fast(x)
        assert (got - expected).abs().max() <= 1e-4
        features = fast.forward_features(x)
        assert (fast.forward_head(features) - expected).abs().max() <= 1e-4
    assert not fast.training


def test_same_padding_model_folds_too() -> None:
    model = tiny(padding="same")
    fast = optimize_for_inference(model)
    x = torch.randn(1, 3, 65, 63)
    with torch.no_grad():
        assert (fast(x) - model(x)).abs().max() <= 1e-4


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
    from effnet.weights import save_pretrained

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
