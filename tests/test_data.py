"""Data: IDX and CIFAR-binary readers on files generated here, ImageFolder bad-input handling, transforms."""

from __future__ import annotations

import gzip
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from effnet.data import (
    DEFAULT_FASHION_DIR,
    Augmentation,
    BadImageWarning,
    ImageFolder,
    eval_transform,
    make_dataset,
    read_idx,
    train_transform,
)
from effnet.errors import InputError
from effnet.model.preprocessing import Preprocessing


def write_idx(path: Path, array: np.ndarray) -> None:
    array = np.asarray(array, dtype=np.uint8)
    data = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)


def make_fashion(root: Path, n_train: int = 64, n_test: int = 32, seed: int = 0, size: int = 28) -> Path:
    """A tiny Fashion-MNIST-shaped IDX set whose class is a bright horizontal band at row 2 * label."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        images = (rng.random((n, size, size)) * 60).astype(np.uint8)
        for i, label in enumerate(labels):
            images[i, 2 + 2 * label: 5 + 2 * label] = 255
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def make_image_folder(root: Path, classes: int = 3, per_class: int = 4, size: int = 20) -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "val"):
        for c in range(classes):
            folder = root / split / f"class{c}"
            folder.mkdir(parents=True)
            for i in range(per_class):
                pixels = (rng.random((size, size, 3)) * 255).astype(np.uint8)
                mode = "L" if i % 2 else "RGB"
                Image.fromarray(pixels).convert(mode).save(folder / f"{i}.png")
    return root


def test_read_idx_plain_and_gzip(tmp_path: Path) -> None:
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a-idx3-ubyte", array)
    write_idx(tmp_path / "b-idx3-ubyte.gz", array)
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), array)


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04rubbish")
    with pytest.raises(InputError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    array = np.zeros((2, 3), dtype=np.uint8)
    write_idx(tmp_path / "short", array)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-1])
    with pytest.raises(InputError, match="payload"):
        read_idx(tmp_path / "short")


def test_fashion_mnist_from_idx(tmp_path: Path) -> None:
    make_fashion(tmp_path, n_train=12, n_test=5)
    train = make_dataset("fashion-mnist", "train", data_dir=tmp_path)
    test = make_dataset("fashion-mnist", "val", data_dir=tmp_path)
    assert (len(train), len(test), train.num_classes) == (12, 5, 10)
    image, label = train[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.uint8
    assert image[0, 2 + 2 * label].min() == 255


def test_missing_fashion_mnist_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not found.*apt-get install dataset-fashion-mnist"):
        make_dataset("fashion-mnist", "train", data_dir=tmp_path)
    assert str(DEFAULT_FASHION_DIR) == "/usr/share/datasets/fashion-mnist"


def test_idx_label_out_of_range(tmp_path: Path) -> None:
    make_fashion(tmp_path, n_train=4, n_test=4)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.array([0, 1, 12, 3]))
    with pytest.raises(InputError, match="label 12 out of range"):
        make_dataset("fashion-mnist", "train", data_dir=tmp_path)


def _cifar_records(labels: list[int], label_bytes: int) -> tuple[bytes, np.ndarray]:
    rng = np.random.default_rng(1)
    pixels = (rng.random((len(labels), 3072)) * 255).astype(np.uint8)
    prefix = np.array([[0] * (label_bytes - 1) + [lab] for lab in labels], dtype=np.uint8)
    return np.concatenate([prefix, pixels], axis=1).tobytes(), pixels.reshape(-1, 3, 32, 32)


def test_cifar10_binary_folder_and_archive(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    expected = {}
    for i in range(1, 6):
        data, pixels = _cifar_records([i, (i + 3) % 10], 1)
        (folder / f"data_batch_{i}.bin").write_bytes(data)
        expected[i] = pixels
    data, _ = _cifar_records([7], 1)
    (folder / "test_batch.bin").write_bytes(data)
    (folder / "batches.meta.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    train = make_dataset("cifar10", "train", data_dir=tmp_path)
    assert len(train) == 10 and train.classes[3] == "c3"
    image, label = train[2]
    assert label == 2 and torch.equal(image, torch.from_numpy(expected[2][0]))
    archive_dir = tmp_path / "archive"
    archive_dir.mkdir()
    with tarfile.open(archive_dir / "cifar-10-binary.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="cifar-10-batches-bin")
    test = make_dataset("cifar10", "test", data_dir=archive_dir)
    assert len(test) == 1 and test[0][1] == 7


def test_cifar100_uses_fine_labels(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    data, _ = _cifar_records([42, 99], 2)
    (folder / "train.bin").write_bytes(data)
    (folder / "test.bin").write_bytes(data)
    train = make_dataset("cifar100", "train", data_dir=tmp_path)
    assert [train[i][1] for i in range(2)] == [42, 99] and train.num_classes == 100


def test_cifar_truncated_file(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-binary"
    folder.mkdir()
    (folder / "train.bin").write_bytes(b"\x00" * 3000)
    with pytest.raises(InputError, match="whole number"):
        make_dataset("cifar100", "train", data_dir=tmp_path)


def test_image_folder_grayscale_to_rgb(tmp_path: Path) -> None:
    make_image_folder(tmp_path)
    transform = eval_transform(Preprocessing(16, crop_pct=1.0))
    data = make_dataset(tmp_path, "train", transform=transform)
    assert data.classes == ["class0", "class1", "class2"] and len(data) == 12
    image, _ = data[1]  # stored as grayscale
    assert image.shape == (3, 16, 16)
    gray = [image[c] * std + mean for c, (mean, std) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))]
    assert torch.allclose(gray[0], gray[1], atol=1e-5) and torch.allclose(gray[1], gray[2], atol=1e-5)


def test_corrupt_image_is_skipped_with_warning_or_fails(tmp_path: Path) -> None:
    make_image_folder(tmp_path)
    bad = tmp_path / "train" / "class1" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.warns(BadImageWarning, match="skipped 1 unreadable"):
        data = ImageFolder(tmp_path / "train")
    assert len(data) == 12 and data.bad_images[0][0] == bad
    with pytest.raises(InputError, match=r"unreadable image .*broken\.png"):
        ImageFolder(tmp_path / "train", on_bad_image="fail")


def test_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    make_image_folder(tmp_path)
    (tmp_path / "train" / "empty").mkdir()
    with pytest.raises(InputError, match=r"class folder .*empty holds no images"):
        make_dataset(tmp_path, "train")


def test_dataset_path_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="neither a known name"):
        make_dataset(tmp_path / "nope", "train")
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        make_dataset(tmp_path / "file", "train")


def test_train_transform_is_random_but_seedable() -> None:
    transform = train_transform(Preprocessing(24), Augmentation(policy="autoaugment", random_erasing=0.5))
    image = (torch.rand(1, 28, 28) * 255).to(torch.uint8)
    torch.manual_seed(3)
    a = transform(image)
    torch.manual_seed(3)
    b = transform(image)
    c = transform(image)
    assert a.shape == (3, 24, 24) and torch.equal(a, b) and not torch.equal(a, c)
    for augment in ("randaugment", "none"):
        assert train_transform(Preprocessing(24), Augmentation(policy=augment))(image).shape == (3, 24, 24)


def test_eval_transform_crop_fraction() -> None:
    image = torch.zeros(3, 40, 40, dtype=torch.uint8)
    image[:, 18:22, 18:22] = 255
    out = eval_transform(Preprocessing(20, crop_pct=0.5, mean=(0, 0, 0), std=(1, 1, 1)))(image)
    assert out.shape == (3, 20, 20)
    assert out[:, 8:12, 8:12].min() > 0.9  # resize 40 -> 40 then crop the central 20: the square is kept at 1:1


@pytest.mark.skipif(not (DEFAULT_FASHION_DIR / "t10k-labels-idx1-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_smoke() -> None:
    test = make_dataset("fashion-mnist", "test")
    assert len(test) == 10_000 and test.classes[9] == "Ankle boot"
    counts = torch.bincount(test.labels, minlength=10)
    assert counts.tolist() == [1000] * 10
