"""The one dataset factory: a named dataset (Fashion-MNIST, CIFAR-10/100) or an ImageFolder tree, by split."""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from ..errors import InputError
from .cifar import cifar
from .folder import ImageFolder
from .idx import fashion_mnist

NAMED_DATASETS = ("fashion-mnist", "cifar10", "cifar100")
SPLITS = ("train", "val", "test")


def make_dataset(name_or_path: str | Path, split: str, *, data_dir: str | Path | None = None,
                 transform=None, on_bad_image: str = "skip", classes: list[str] | None = None) -> Dataset:
    """A named dataset (`fashion-mnist`, `cifar10`, `cifar100`; files in `data_dir`) or an ImageFolder tree
    `PATH/<split>/<class>/*` (`val` falls back to `test` and vice versa). Every dataset has `.classes`."""
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    name = str(name_or_path).lower()
    if name in ("fashion-mnist", "fashion_mnist", "fashionmnist"):
        return fashion_mnist(split, data_dir, transform)
    if name in ("cifar10", "cifar-10", "cifar100", "cifar-100"):
        return cifar(name.replace("-", ""), split, data_dir, transform)
    root = Path(name_or_path)
    if not root.exists():
        raise InputError(f"dataset {name_or_path!r} is neither a known name ({', '.join(NAMED_DATASETS)}) "
                         "nor an existing folder")
    if not root.is_dir():
        raise InputError(f"dataset path {root} is a file; expected a folder with train/ and val/ subfolders")
    options = [split, *{"val": ["test"], "test": ["val"]}.get(split, [])]
    for option in options:
        if (root / option).is_dir():
            return ImageFolder(root / option, transform, on_bad_image, classes)
    raise InputError(f"no {split}/ folder in {root} (expected {root}/{split}/<class>/<image>)")


__all__ = ["NAMED_DATASETS", "SPLITS", "make_dataset"]
