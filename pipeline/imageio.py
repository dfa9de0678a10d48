"""Read image files into BGR uint8 arrays, and list a folder-per-person dataset."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import DatasetError, ImageError
from .types import Image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
MAX_FILE_BYTES = 200 * 1024 * 1024


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def decode_image(data: bytes, name: str = "<bytes>") -> Image:
    """Decode encoded image bytes into BGR uint8 HxWx3.

    IMREAD_COLOR turns grey, alpha and 16-bit images into 8-bit BGR and applies the EXIF
    orientation, so phone photos come out upright.
    """
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        raise ImageError(f"{name}: not a readable image (corrupt, truncated or another format)")
    return np.ascontiguousarray(image, dtype=np.uint8)


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read an image file (any path, including non-ASCII) into BGR uint8 HxWx3.

    Raises:
        ImageError: the file is missing, unreadable, too large or not an image.
    """
    p = Path(path)
    try:
        size = p.stat().st_size
        if not p.is_file():
            raise ImageError(f"{p}: not a file")
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{p}: {size} bytes is larger than the {MAX_FILE_BYTES} byte limit")
        data = p.read_bytes()
    except FileNotFoundError as err:
        raise ImageError(f"{p}: no such file") from err
    except OSError as err:
        raise ImageError(f"{p}: cannot read ({err.strerror or err})") from err
    return decode_image(data, str(p))


@dataclass(frozen=True, slots=True)
class DatasetItem:
    """One image of a folder-per-person dataset; `relpath` is relative to the dataset root."""

    person: str
    path: Path
    relpath: str


def iter_dataset(root: str | os.PathLike[str]) -> Iterator[DatasetItem]:
    """Yield every image under root/<person>/ (any depth), sorted, without following links
    to folders (so a symlink loop cannot trap the walk).

    Raises:
        DatasetError: root is missing or not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: dataset folder not found (expected <dataset>/<person>/*.jpg)")
    for person_dir in sorted(
        p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
    ):
        for dirpath, dirnames, filenames in os.walk(person_dir, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if is_image_path(path):
                    yield DatasetItem(person_dir.name, path, path.relative_to(base).as_posix())


def list_images(target: str | os.PathLike[str]) -> list[Path]:
    """An image file as a one-item list, or every image in a folder (recursively, sorted).

    Raises:
        ImageError: the path does not exist.
    """
    p = Path(target)
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise ImageError(f"{p}: no such file or folder")
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames) if is_image_path(Path(f))]
    return found
