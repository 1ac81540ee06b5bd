"""Reader for the IDX format (MNIST / Fashion-MNIST), plain or gzipped; no third-party code involved."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import InputError

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (`.gz` is decompressed on the fly); a clear error if malformed."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            data = handle.read()
    except (OSError, EOFError) as error:
        raise InputError(f"cannot read IDX file {path}: {error}") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise InputError(f"{path} is not an IDX file (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(data) < header:
        raise InputError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", data[4:header])
    dtype = np.dtype(_DTYPES[data[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise InputError(f"{path}: IDX payload has {len(data) - header} bytes, header promises {expected}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


class TensorImageDataset(Dataset):
    """In-memory uint8 images (N, C, H, W) with integer labels; `transform` maps a uint8 CHW tensor."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, classes: list[str], transform=None) -> None:
        if images.ndim == 3:
            images = images.unsqueeze(1)
        if len(images) != len(labels):
            raise InputError(f"{len(images)} images but {len(labels)} labels")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= len(classes)):
            bad = int(labels.max()) if int(labels.max()) >= len(classes) else int(labels.min())
            raise InputError(f"label {bad} out of range: this dataset has {len(classes)} classes")
        self.images, self.labels, self.classes, self.transform = images, labels.long(), classes, transform

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def targets(self) -> list[int]:
        return self.labels.tolist()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.labels[index])


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
FASHION_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                 "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
DEFAULT_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")  # where Debian's dataset-fashion-mnist puts it


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if (directory / name).is_file():
            return directory / name
    return None


def fashion_mnist(split: str, data_dir: str | Path | None = None, transform=None) -> TensorImageDataset:
    """Fashion-MNIST `train` (60k) or `test`/`val` (10k) from IDX files in `data_dir` (default: Debian's path)."""
    key = "test" if split in ("test", "val") else split
    if key not in FASHION_FILES:
        raise InputError(f"unknown split {split!r} for fashion-mnist; use train or test")
    directory = Path(data_dir) if data_dir else DEFAULT_FASHION_DIR
    paths = [_find(directory, stem) for stem in FASHION_FILES[key]]
    if None in paths:
        missing = FASHION_FILES[key][paths.index(None)]
        raise InputError(f"fashion-mnist not found: no {missing}[.gz] in {directory}; install it with "
                         "`apt-get install dataset-fashion-mnist` or pass --data-dir DIR holding the IDX files")
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1:
        raise InputError(f"{paths[0]}: expected (N, H, W) images and (N,) labels")
    if images.dtype != np.uint8:
        raise InputError(f"{paths[0]}: Fashion-MNIST images are unsigned bytes (IDX type 0x08), this file holds "
                         f"{images.dtype.name} values")
    if labels.dtype.kind not in "iu":
        raise InputError(f"{paths[1]}: labels must be integers, this file holds {labels.dtype.name} values")
    return TensorImageDataset(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)),
                              list(FASHION_CLASSES), transform)
