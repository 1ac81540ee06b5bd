"""Which padding, BN eps, normalisation and crop fit an installed Lite checkpoint? (evidence for
effnet/hub/pretrained.py)

For each combination of padding {same, symmetric} x BN eps {1e-3, 1e-5} x normalisation {TF Lite (x-127)/128,
ImageNet mean/std}, at the model's own input size: P(cat | chelsea), P(espresso | coffee), how well each
BatchNorm's running mean matches the batch mean of its input on 5 scikit-image photos (mean |z|; lower = the
weights saw inputs like these), and the label NLL over 12 crops/flips of chelsea and coffee. Then, with TF
"same" padding, eps 1e-3 and TF Lite normalisation, the center-crop NLL at crop 0.875 vs size / (size + 32) (TF
EfficientNet's eval crop) and bicubic vs bilinear resizing.
Run: .venv/bin/python benchmarks/lite_settings.py --model efficientnet-lite1 [--weights FILE]
"""

from __future__ import annotations

import argparse
import itertools

import torch
from PIL import Image
from skimage import data
from torch import nn

import effnet
from effnet.data.transforms import eval_transform
from effnet.hub.pretrained import pretrained_entry
from effnet.model.preprocessing import IMAGENET_MEAN, IMAGENET_STD, Preprocessing, to_image

MODELS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
TF_LITE = ((127 / 255,) * 3, (128 / 255,) * 3)
NORMS = {"tf-lite (x-127)/128": TF_LITE, "imagenet mean/std": (IMAGENET_MEAN, IMAGENET_STD)}
CATS = slice(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
ESPRESSO = 967


def views(array, cfg) -> torch.Tensor:
    image = to_image(array)
    flips = (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    return torch.stack([eval_transform(cfg.replace(crop_pct=crop))(im) for crop in (0.6, 0.7, 0.8, 0.875, 0.95, 1.0)
                        for im in flips])


def nll(model: nn.Module, chelsea: torch.Tensor, coffee: torch.Tensor) -> tuple[float, float]:
    """Mean label NLL: -log P(any cat) on the chelsea batch, -log P(espresso) on the coffee batch."""
    cat = -model(chelsea).log_softmax(-1)[:, CATS].logsumexp(-1).mean().item()
    espresso = -model(coffee).log_softmax(-1)[:, ESPRESSO].mean().item()
    return cat, espresso


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=MODELS, default="efficientnet-lite0")
    parser.add_argument("--weights", help="checkpoint file (default: the registered entry's installed file)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    path = args.weights or pretrained_entry(args.model).path()
    size = effnet.get_spec(args.model).resolution
    tf_crop = size / (size + 32)
    print(f"{args.model}: {path}, {size}px, crop {tf_crop:.3f} bicubic")
    photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket(), data.hubble_deep_field()]
    for padding, eps, (norm, (mean, std)) in itertools.product(("same", "symmetric"), (1e-3, 1e-5), NORMS.items()):
        model = effnet.create_model(args.model, pretrained=path, padding=padding, bn_eps=eps).eval()
        cfg = Preprocessing(size, tf_crop, "bicubic", mean, std)
        z: list[float] = []

        def hook(module, inputs, output, z=z):
            mu = inputs[0].mean((0, 2, 3))
            z.append(((mu - module.running_mean) / (module.running_var + module.eps).sqrt()).abs().mean().item())

        handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
        probs = model(torch.stack([eval_transform(cfg)(to_image(p)) for p in photos])).softmax(-1)
        for handle in handles:
            handle.remove()
        nll_cat, nll_esp = nll(model, views(photos[0], cfg), views(photos[1], cfg))
        print(f"{padding:9} eps={eps:<6g} {norm:20} P(cat)={probs[0, CATS].sum():.3f} "
              f"P(espresso)={probs[1, ESPRESSO]:.3f} BN|z| stem={z[0]:.3f} all={sum(z) / len(z):.3f} "
              f"NLL cat={nll_cat:.3f} espresso={nll_esp:.3f}")

    model = effnet.create_model(args.model, pretrained=path, padding="same", bn_eps=1e-3).eval()
    for crop, interpolation in itertools.product(sorted({0.875, tf_crop}), ("bicubic", "bilinear")):
        cfg = Preprocessing(size, crop, interpolation, TF_LITE[0], TF_LITE[1])
        transform = eval_transform(cfg)
        batches = [torch.stack([transform(im) for im in (image, image.transpose(Image.Transpose.FLIP_LEFT_RIGHT))])
                   for image in (to_image(photos[0]), to_image(photos[1]))]
        nll_cat, nll_esp = nll(model, *batches)
        print(f"center crop {crop:.3f} {interpolation:8} (same, eps 1e-3, tf-lite; image + flip) "
              f"NLL cat={nll_cat:.3f} espresso={nll_esp:.3f}")


if __name__ == "__main__":
    main()
