"""Which padding, BN eps and normalisation fit the installed Lite0 weights? (evidence for effnet/pretrained.py)

For each combination: P(cat | chelsea), P(espresso | coffee), how well each BatchNorm's running mean matches
the batch mean of its input on 5 scikit-image photos (mean |z|; lower = the weights saw inputs like these), and
the label NLL over 12 crops/flips of chelsea and coffee. Run: .venv/bin/python benchmarks/lite0_settings.py
"""

from __future__ import annotations

import itertools

import torch
from PIL import Image
from skimage import data
from torch import nn

import effnet
from effnet.preprocess import IMAGENET_MEAN, IMAGENET_STD, to_image, transform
from effnet.pretrained import pretrained_entry

NORMS = {"tf-lite (x-127)/128": ((127 / 255,) * 3, (128 / 255,) * 3),
         "imagenet mean/std": (IMAGENET_MEAN, IMAGENET_STD)}


def views(array, cfg) -> torch.Tensor:
    image = to_image(array)
    flips = (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    return torch.stack([transform(im, dict(cfg, crop_pct=crop)) for crop in (0.6, 0.7, 0.8, 0.875, 0.95, 1.0)
                        for im in flips])


@torch.no_grad()
def main() -> None:
    torch.set_num_threads(1)
    path = pretrained_entry("efficientnet-lite0").path()
    photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket(), data.hubble_deep_field()]
    for padding, eps, (norm, (mean, std)) in itertools.product(("same", "symmetric"), (1e-3, 1e-5), NORMS.items()):
        model = effnet.create_model("efficientnet-lite0", pretrained=path, padding=padding, bn_eps=eps).eval()
        cfg = {"input_size": 224, "crop_pct": 0.875, "interpolation": "bicubic", "mean": mean, "std": std}
        z: list[float] = []

        def hook(module, inputs, output, z=z):
            mu = inputs[0].mean((0, 2, 3))
            z.append(((mu - module.running_mean) / (module.running_var + module.eps).sqrt()).abs().mean().item())

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        probs = model(torch.stack([transform(to_image(p), cfg) for p in photos])).softmax(-1)
        for handle in handles:
            handle.remove()
        nll_cat = -model(views(photos[0], cfg)).log_softmax(-1)[:, 281:286].logsumexp(-1).mean().item()
        nll_esp = -model(views(photos[1], cfg)).log_softmax(-1)[:, 967].mean().item()
        print(f"{padding:9} eps={eps:<6g} {norm:20} P(cat)={probs[0, 281:286].sum():.3f} "
              f"P(espresso)={probs[1, 967]:.3f} BN|z| stem={z[0]:.3f} all={sum(z) / len(z):.3f} "
              f"NLL cat={nll_cat:.3f} espresso={nll_esp:.3f}")


if __name__ == "__main__":
    main()
