"""ImageFolder trees (`ROOT/<class>/<image>`) with explicit handling of unreadable images."""

from __future__ import annotations

import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from ..errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
BAD_IMAGE_POLICIES = ("skip", "fail")


class BadImageWarning(UserWarning):
    """Some image files could not be read and were skipped."""


def _check(path: Path) -> str | None:
    """None if the file looks like a readable image, else the reason."""
    try:
        with Image.open(path) as image:
            image.verify()
        return None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        return str(error) or type(error).__name__


class ImageFolder(Dataset):
    """Images under `root/<class>/`, classes sorted by name; grayscale/RGBA become RGB.

    `on_bad_image="skip"` drops unreadable files, counts them in `bad_images` and warns once;
    `"fail"` raises an `InputError` naming the first bad file."""

    def __init__(self, root: str | Path, transform=None, on_bad_image: str = "skip",
                 classes: list[str] | None = None) -> None:
        if on_bad_image not in BAD_IMAGE_POLICIES:
            raise InputError(f"on_bad_image must be one of {', '.join(BAD_IMAGE_POLICIES)}, got {on_bad_image!r}")
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"image folder {self.root} does not exist or is not a directory")
        found = sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        self.classes = list(classes) if classes is not None else found
        if not self.classes:
            raise InputError(f"no class folders in {self.root} (expected {self.root}/<class>/<image>)")
        extra = sorted(set(found) - set(self.classes))
        if extra:
            raise InputError(f"{self.root} has class folder(s) not in the training set: {', '.join(extra[:5])}")
        self.samples: list[tuple[Path, int]] = []
        self.bad_images: list[tuple[Path, str]] = []
        for label, name in enumerate(self.classes):
            folder = self.root / name
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()) \
                if folder.is_dir() else []
            if not files and classes is None:
                raise InputError(f"class folder {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            for path in files:
                reason = _check(path)
                if reason is None:
                    self.samples.append((path, label))
                elif on_bad_image == "fail":
                    raise InputError(f"unreadable image {path}: {reason}")
                else:
                    self.bad_images.append((path, reason))
        if self.bad_images:
            warnings.warn(f"skipped {len(self.bad_images)} unreadable image(s) in {self.root}, "
                          f"first: {self.bad_images[0][0]}", BadImageWarning, stacklevel=2)
        if not self.samples:
            raise InputError(f"no readable images in {self.root}")
        self.transform = transform

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        try:
            with Image.open(path) as image:
                image = image.convert("RGB")
        except (OSError, UnidentifiedImageError, ValueError) as error:
            raise InputError(f"unreadable image {path}: {error}") from None
        if self.transform is not None:
            image = self.transform(image)
        return image, label
