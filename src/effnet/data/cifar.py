"""CIFAR-10/100 from the official *binary* distributions (a directory or the .tar.gz); never unpickles."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from .idx import TensorImageDataset

_LAYOUT = {  # name -> (folder in the archive, archive name, train files, test files, label bytes, label offset)
    "cifar10": ("cifar-10-batches-bin", "cifar-10-binary.tar.gz",
                [f"data_batch_{i}.bin" for i in range(1, 6)], ["test_batch.bin"], 1, 0),
    "cifar100": ("cifar-100-binary", "cifar-100-binary.tar.gz", ["train.bin"], ["test.bin"], 2, 1),
}
_META = {"cifar10": "batches.meta.txt", "cifar100": "fine_label_names.txt"}
_URL = {"cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        "cifar100": "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz"}


def parse_records(data: bytes, label_bytes: int, label_offset: int, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Split raw CIFAR records (label byte(s) + 3072 pixel bytes) into (N, 3, 32, 32) images and labels."""
    size = label_bytes + 3072
    if not data or len(data) % size:
        raise InputError(f"{source}: {len(data)} bytes is not a whole number of {size}-byte CIFAR records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    return records[:, label_bytes:].reshape(-1, 3, 32, 32), records[:, label_offset].astype(np.int64)


def _reader(root: Path, name: str):
    folder, archive = _LAYOUT[name][:2]
    for candidate in (root / folder, root):
        if (candidate / _LAYOUT[name][2][0]).is_file():
            return lambda member, c=candidate: (c / member).read_bytes() if (c / member).is_file() else None
    if (root / archive).is_file():
        tar = tarfile.open(root / archive, "r:gz")  # noqa: SIM115 - read lazily, closed at exit

        def read(member: str) -> bytes | None:
            try:
                handle = tar.extractfile(f"{folder}/{member}")
            except KeyError:
                return None
            return handle.read() if handle else None

        return read
    raise InputError(f"{name} not found in {root}: expected {folder}/ or {archive} (the official binary version, "
                     f"from {_URL[name]}); pass the folder that holds it as the data directory")


def cifar(name: str, split: str, data_dir: str | Path | None, transform=None) -> TensorImageDataset:
    """CIFAR-10 or CIFAR-100 (fine labels) `train` or `test`/`val` split."""
    if name not in _LAYOUT:
        raise InputError(f"unknown CIFAR variant {name!r}")
    if data_dir is None:
        raise InputError(f"{name} needs a data directory holding {_LAYOUT[name][0]}/ or {_LAYOUT[name][1]}")
    read = _reader(Path(data_dir), name)
    _, _, train, test, label_bytes, offset = _LAYOUT[name]
    files = train if split == "train" else test
    parts = []
    for member in files:
        data = read(member)
        if data is None:
            raise InputError(f"{name}: {member} missing in {data_dir}")
        parts.append(parse_records(data, label_bytes, offset, member))
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    count = 10 if name == "cifar10" else 100
    meta = read(_META[name])
    classes = [c for c in meta.decode().split("\n") if c.strip()] if meta else []
    if len(classes) != count:
        classes = [str(i) for i in range(count)]
    return TensorImageDataset(torch.from_numpy(images.copy()), torch.from_numpy(labels), classes, transform)
