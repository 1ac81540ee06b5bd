"""The data side of a run: the training and validation splits with the run's transforms, and per-sample seeds
that make augmentation independent of worker count, rank and interruption (exact resume)."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..data import Augmentation, eval_transform, make_splits, train_transform
from ..model.preprocessing import Preprocessing
from .distributed import epoch_seed


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
        # Augmentation runs on the CPU, so only the CPU generator is seeded: `torch.manual_seed` also seeds every
        # accelerator backend, which on a CUDA build of torch records a stack trace per call for lazy
        # initialisation -- 15% of a small-image training step on this CPU, for the same random stream.
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(((epoch_seed(self.seed, self.epoch) << 32) + index) % (2**63))
            return self.dataset[index]


class RunData:
    """The training, validation and (with a held-out validation split) test parts of a dataset; `classes` is known
    before the model exists, the transforms are set once the model (and so the run's preprocessing) is."""

    def __init__(self, data: str, data_dir: str | None, *, limit_train: int | None, limit_val: int | None,
                 on_bad_image: str, val_split: str = "dataset", limit_test: int | None = None) -> None:
        self.parts = make_splits(data, val_split, data_dir=data_dir, on_bad_image=on_bad_image)
        self.classes = list(self.parts.classes)
        self.limit_train, self.limit_val, self.limit_test = limit_train, limit_val, limit_test

    def splits(self, preprocessing: Preprocessing, augmentation: Augmentation, seed: int
               ) -> tuple[SeededDataset, Dataset, Dataset | None]:
        """(training set with augmentation and per-sample seeds, validation set and test set -- None without one --
        with the eval transform)."""
        evaluation = eval_transform(preprocessing)
        train = self.parts.train.limited(self.limit_train).with_transform(train_transform(preprocessing, augmentation))
        val = self.parts.val.limited(self.limit_val).with_transform(evaluation)
        test = (self.parts.test.limited(self.limit_test).with_transform(evaluation) if self.parts.test is not None
                else None)
        return SeededDataset(train, seed), val, test


__all__ = ["RunData", "SeededDataset"]
