"""Standard nn modules only: models script with TorchScript and export to ONNX with a dynamic batch."""

from __future__ import annotations

import pytest
import torch

import effnet

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is a test dependency")


@pytest.mark.parametrize("name,padding", [("efficientnet-b0", "symmetric"), ("efficientnet-lite0", "same")])
def test_torchscript_matches_eager(name, padding):
    model = effnet.create_model(name, padding=padding).eval()
    scripted = torch.jit.script(model)
    for size in (64, 97):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            assert (scripted(x) - model(x)).abs().max() <= 1e-5


@pytest.mark.parametrize("padding", ["symmetric", "same"])
def test_onnx_export_matches_at_two_sizes_with_dynamic_batch(tmp_path, padding):
    model = effnet.create_model("efficientnet-lite0", padding=padding).eval()
    for size in (96, 128):
        path = tmp_path / f"lite0_{size}.onnx"
        torch.onnx.export(model, (torch.randn(1, 3, size, size),), str(path), input_names=["image"],
                          output_names=["logits"], dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
                          dynamo=False)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for batch in (1, 3):
            x = torch.randn(batch, 3, size, size)
            with torch.no_grad():
                expected = model(x).numpy()
            (actual,) = session.run(None, {"image": x.numpy()})
            assert actual.shape == expected.shape
            assert abs(actual - expected).max() <= 1e-4
