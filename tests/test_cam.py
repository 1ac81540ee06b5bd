"""Class Activation Maps: CAM = classifier weights x last feature maps; Grad-CAM; the real Lite0 on a cat."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from effnet.cli import main
from effnet.data.transforms import eval_transform
from effnet.errors import InputError
from effnet.model.preprocessing import Preprocessing
from effnet.viz import cam_grid, class_activation_map, overlay, save_png
from test_inference import tiny

# The cat's face in scikit-image's `chelsea` (451 x 300 px), read off the picture once: x 95..355, y 30..300
# (ears' inner edges to whiskers, top of the head to the bottom edge). It is 52% of the frame; the rest is
# the blurred background on the right and the cat's shoulder on the left.
CHELSEA_FACE = (95, 30, 355, 300)


def picture(size: tuple[int, int] = (80, 60)) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)


def test_cam_is_classifier_weights_times_features() -> None:
    model = tiny()
    result = class_activation_map(model, picture(), class_index=3, method="cam")
    assert result.method == "cam" and result.class_index == 3 and result.cam.shape == (64, 64)
    x = eval_transform(model.preprocessing)(Image.fromarray(picture()))[None]
    with torch.no_grad():
        features = model.forward_features(x)[0]
        manual = torch.relu((model.classifier.weight[3][:, None, None] * features).sum(0))
        manual = nn.functional.interpolate(manual[None, None], size=(64, 64), mode="bilinear")[0, 0]
    manual = (manual / manual.max()).numpy()
    assert np.abs(result.cam - manual).max() < 1e-5
    assert result.cam.min() >= 0.0 and result.cam.max() == pytest.approx(1.0)


def test_gradcam_matches_cam_for_pool_linear_head() -> None:
    # For global-average-pool + linear, d logit_k / dF_c = W[k, c] / (h * w): the two maps agree.
    model = tiny("efficientnet-lite0")
    cam = class_activation_map(model, picture(), method="cam")
    grad = class_activation_map(model, picture(), method="gradcam")
    assert cam.class_index == grad.class_index
    assert np.abs(cam.cam - grad.cam).max() < 1e-4


def test_gradcam_for_a_model_without_cam_head() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                          nn.ReLU(), nn.Flatten(), nn.Linear(8 * 32 * 32, 5))
    with pytest.raises(InputError, match="gradcam"):
        class_activation_map(model, picture(), method="cam")
    result = class_activation_map(model, picture(), method="auto", preprocessing=Preprocessing(
        64, crop_pct=1.0, interpolation="bilinear", mean=(0.5,) * 3, std=(0.5,) * 3))
    assert result.method == "gradcam" and result.cam.shape == (64, 64) and 0 <= result.class_index < 5


def test_class_out_of_range() -> None:
    with pytest.raises(InputError, match="out of range"):
        class_activation_map(tiny(), picture(), class_index=10)


def test_overlay_png_and_grid(tmp_path: Path) -> None:
    model = tiny()
    path = save_png(overlay(class_activation_map(model, picture())), tmp_path / "cam.png")
    assert [p.name for p in tmp_path.iterdir()] == ["cam.png"]
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (64, 64)
    grid = cam_grid([("a", model), ("b", tiny("efficientnet-lite0"))], [picture(), picture((50, 70))], cell=32)
    assert grid.size == (3 * 32, 2 * (32 + 18))


def test_cli_bad_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = str(tmp_path / "out.png")
    assert main(["cam", str(bad), "--model", "efficientnet-b0", "--output", out]) == 2
    assert "cannot read image" in capsys.readouterr().err
    good = tmp_path / "good.png"
    Image.fromarray(picture()).save(good)
    assert main(["cam", str(good), "--model", "efficientnet-b0", "--class", "1000", "--output", out]) == 2
    assert "out of range" in capsys.readouterr().err
    assert main(["cam", str(good), "--model", "no-such-net", "--output", out]) == 2
    assert not (tmp_path / "out.png").exists()


def test_pretrained_lite0_cam_is_on_the_cat(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    skimage_data = pytest.importorskip("skimage.data")
    import effnet

    image = skimage_data.chelsea()
    model = effnet.create_model("efficientnet-lite0", pretrained=True)
    result = class_activation_map(model, image, crop=False)  # whole frame, so the background is in view
    assert result.class_index in (281, 282, 283, 285)  # tabby, tiger cat, Persian, Egyptian cat
    height, width = image.shape[:2]
    size = result.cam.shape[0]
    x0, y0, x1, y1 = CHELSEA_FACE
    box = result.cam[round(y0 * size / height):round(y1 * size / height), round(x0 * size / width):round(x1 * size /
                     width)]
    area = (x1 - x0) * (y1 - y0) / (width * height)
    mass = box.sum() / result.cam.sum()
    assert mass > 0.5 and mass > area + 0.1, (mass, area)

    path = tmp_path / "chelsea.png"
    Image.fromarray(image).save(path)
    code = main(["cam", str(path), "--model", "efficientnet-lite0", "--pretrained", "--output",
                 str(tmp_path / "cam.png")])
    assert code == 0 and "cat" in capsys.readouterr().out
