"""Train / validation / test splits of a dataset. Two ways to validate:

- `dataset`: the dataset's own split (Fashion-MNIST's and CIFAR's test set, an ImageFolder's `val/`), as timm and
  torchvision train; there is no separate test set.
- `holdout`: a fixed, stratified part of the training set is held out for validation (Fashion-MNIST one sixth:
  10,000 of 60,000; CIFAR a tenth: 5,000 of 50,000), the same for every seed and every run, and the dataset's own
  test split is kept for one final score. An ImageFolder uses its `val/` for validation and, if present, its
  `test/` as the test set. Every choice a study or search makes is then made on validation images the final
  table never sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import Dataset

from ..errors import InputError
from .factory import make_dataset

VAL_SPLITS = ("dataset", "holdout")
SPLIT_SEED = 20190528  # fixed: the held-out images never depend on a run's seed (the paper's ICML date)
HOLDOUT = {"fashion-mnist": 1 / 6, "cifar10": 0.1, "cifar100": 0.1}  # the held-out share of the training split
HOLDOUT_FRACTION = 0.1  # of an ImageFolder's train/ when it has no val/


def stratified_holdout(targets: Sequence[int], size: int, seed: int = SPLIT_SEED) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices), both ascending: `size` indices held out with every class in its share
    of the whole (largest remainders), drawn with a fixed `seed`."""
    labels = np.asarray(targets, dtype=np.int64)
    if not 0 < size < len(labels):
        raise InputError(f"cannot hold out {size} of {len(labels)} training images for validation")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * size / len(labels)
    share = np.floor(exact).astype(int)
    for index in np.argsort(-(exact - share), kind="stable")[: size - int(share.sum())]:
        share[index] += 1
    rng = np.random.RandomState(seed)
    held: list[int] = []
    for label, take in zip(classes, share):
        members = np.flatnonzero(labels == label)
        held.extend(rng.permutation(members)[:take].tolist())
    held_set = set(held)
    return [i for i in range(len(labels)) if i not in held_set], sorted(held)


class View(Dataset):
    """Some items of a dataset, each passed through this view's own transform, so the training and validation
    parts of one dataset can be transformed differently without copying its images."""

    def __init__(self, dataset: Dataset, indices: Sequence[int] | None = None,
                 transform: Callable[[Any], Any] | None = None) -> None:
        self.dataset, self.transform = dataset, transform
        self.indices = list(range(len(dataset))) if indices is None else list(indices)  # type: ignore[arg-type]
        self.classes = list(dataset.classes)  # type: ignore[attr-defined]

    def limited(self, count: int | None) -> View:
        """The first `count` items (all when None)."""
        return self if count is None else View(self.dataset, self.indices[:count], self.transform)

    def with_transform(self, transform: Callable[[Any], Any] | None) -> View:
        return View(self.dataset, self.indices, transform)

    @property
    def targets(self) -> list[int]:
        targets = self.dataset.targets  # type: ignore[attr-defined]
        return [targets[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = self.dataset[self.indices[index]]
        return (image if self.transform is None else self.transform(image)), label


@dataclass
class Splits:
    """The three parts a run uses (untransformed views); `test` is None where the dataset has none to spare."""

    train: View
    val: View
    test: View | None
    val_split: str
    val_source: str  # where the validation images come from, in words (for reports)

    @property
    def classes(self) -> list[str]:
        return self.train.classes


def dataset_name(data: str | Path) -> str:
    """The canonical name of a named dataset (`fashion-mnist`, `cifar10`, `cifar100`), or '' for a folder."""
    name = str(data).lower().replace("_", "-")
    aliases = {"fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "cifar-100": "cifar100"}
    name = aliases.get(name, name)
    return name if name in HOLDOUT else ""


def make_splits(data: str | Path, val_split: str, *, data_dir: str | Path | None = None,
                on_bad_image: str = "skip") -> Splits:
    """The training, validation and (with `holdout`) test parts of `data`, untransformed."""
    if val_split not in VAL_SPLITS:
        raise InputError(f"val-split must be one of {', '.join(VAL_SPLITS)}, got {val_split!r}")
    train = make_dataset(data, "train", data_dir=data_dir, on_bad_image=on_bad_image)
    classes = list(train.classes)
    named = dataset_name(data)
    if val_split == "dataset":
        val = make_dataset(data, "val", data_dir=data_dir, on_bad_image=on_bad_image, classes=classes)
        source = "the dataset's test split" if named else "the folder's val/ (or test/)"
        return Splits(View(train), View(val), None, val_split, source)
    if named:
        size = int(round(HOLDOUT[named] * len(train)))
        kept, held = stratified_holdout(train.targets, size)
        test = make_dataset(data, "test", data_dir=data_dir, on_bad_image=on_bad_image, classes=classes)
        return Splits(View(train, kept), View(train, held), View(test), val_split,
                      f"{size:,} images held out of the training split (stratified, fixed)")
    root = Path(data)
    test = (make_dataset(data, "test", data_dir=data_dir, on_bad_image=on_bad_image, classes=classes)
            if (root / "test").is_dir() else None)
    if (root / "val").is_dir():
        val = make_dataset(data, "val", data_dir=data_dir, on_bad_image=on_bad_image, classes=classes)
        return Splits(View(train), View(val), View(test) if test is not None else None, val_split, "the folder's val/")
    size = max(len(classes), int(round(HOLDOUT_FRACTION * len(train))))
    kept, held = stratified_holdout(train.targets, size)
    return Splits(View(train, kept), View(train, held), View(test) if test is not None else None, val_split,
                  f"{size:,} images held out of the folder's train/ (stratified, fixed)")


__all__ = ["HOLDOUT", "SPLIT_SEED", "VAL_SPLITS", "Splits", "View", "dataset_name", "make_splits",
           "stratified_holdout"]
