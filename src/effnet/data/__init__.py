"""Datasets for training and evaluation: ImageFolder trees, Fashion-MNIST (IDX), CIFAR-10/100 (binary), and their
train / validation / test splits."""

from __future__ import annotations

from .cifar import cifar
from .factory import NAMED_DATASETS, SPLITS, make_dataset
from .folder import BAD_IMAGE_POLICIES, BadImageWarning, ImageFolder
from .idx import DEFAULT_FASHION_DIR, TensorImageDataset, fashion_mnist, read_idx
from .splits import HOLDOUT, VAL_SPLITS, Splits, View, make_splits, stratified_holdout
from .transforms import POLICIES, Augmentation, ToRGB, eval_transform, mixup, train_transform

__all__ = ["BAD_IMAGE_POLICIES", "DEFAULT_FASHION_DIR", "HOLDOUT", "NAMED_DATASETS", "POLICIES", "SPLITS",
           "VAL_SPLITS", "Augmentation", "BadImageWarning", "ImageFolder", "Splits", "TensorImageDataset", "ToRGB",
           "View", "cifar", "eval_transform", "fashion_mnist", "make_dataset", "make_splits", "mixup", "read_idx",
           "stratified_holdout", "train_transform"]
