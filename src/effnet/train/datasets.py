"""The data side of a run: the training and validation splits with the run's transforms, and per-sample seeds
that make augmentation independent of worker count, rank and interruption (exact resume)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset, Subset

from ..data import Augmentation, eval_transform, make_dataset, train_transform
from ..preprocessing import Preprocessing


class SeededDataset(Dataset):
    """Wraps a dataset so sample i of epoch e is augmented with its own seed (seed, e, i): augmentation is then
    independent of worker count, rank and interruption, which makes resume exact."""

    def __init__(self, dataset: Dataset, seed: int) -> None:
        self.dataset, self.seed, self.epoch = dataset, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch * 7_919 + index) % (2**63))
            return self.dataset[index]


class RunData:
    """Both splits of a dataset; `classes` is known before the model exists, the transforms are set once the
    model (and so the run's preprocessing) is."""

    def __init__(self, data: str, data_dir: str | None, *, limit_train: int | None, limit_val: int | None,
                 on_bad_image: str) -> None:
        self.train = make_dataset(data, "train", data_dir=data_dir, on_bad_image=on_bad_image)
        self.classes = list(self.train.classes)
        self.val = make_dataset(data, "val", data_dir=data_dir, on_bad_image=on_bad_image, classes=self.classes)
        self.limit_train, self.limit_val = limit_train, limit_val

    def splits(self, preprocessing: Preprocessing, augmentation: Augmentation, seed: int
               ) -> tuple[SeededDataset, Dataset]:
        """(training set with augmentation and per-sample seeds, validation set with the eval transform)."""
        self.train.transform = train_transform(preprocessing, augmentation)
        self.val.transform = eval_transform(preprocessing)
        train: Dataset = self.train
        val: Dataset = self.val
        if self.limit_train:
            train = Subset(train, range(min(self.limit_train, len(self.train))))
        if self.limit_val:
            val = Subset(val, range(min(self.limit_val, len(self.val))))
        return SeededDataset(train, seed), val


__all__ = ["RunData", "SeededDataset"]
