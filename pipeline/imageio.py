"""Read image files into BGR uint8 arrays, and list a folder-per-person dataset."""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import cv2
import numpy as np

from pipeline.errors import DatasetError, ImageError
from pipeline.facequality import grey_thumbnail
from pipeline.files import read_file
from pipeline.types import Image

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
# Decoded images stay under this many pixels (150 MB as BGR). Bigger JPEGs are decoded at
# 1/2, 1/4 or 1/8 scale by libjpeg itself, so the full image never exists in memory; other
# formats that big are refused.
MAX_PIXELS = 50_000_000  # also OpenCV's own limit: see OPENCV_IO_MAX_IMAGE_PIXELS in __init__
# Bytes of decoded pixels that a read-ahead queue, and separately a batch being embedded, may
# hold (one image is always let through, however big). With the image being decoded, a batch
# job holds at most 2 x 128 MB + 150 MB of pixels, whatever the photos: 16 phone photos of
# 48 MP would otherwise be 2.3 GB in the read-ahead alone.
DECODED_BUDGET = 128 * 1024 * 1024
_REDUCED = {
    2: cv2.IMREAD_REDUCED_COLOR_2,
    4: cv2.IMREAD_REDUCED_COLOR_4,
    8: cv2.IMREAD_REDUCED_COLOR_8,
}
_GREY_OF = {  # the same reduction, in grey (thumbnails)
    cv2.IMREAD_REDUCED_COLOR_2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    cv2.IMREAD_REDUCED_COLOR_4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    cv2.IMREAD_REDUCED_COLOR_8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
# A progressive JPEG is decoded scan by scan, each scan over the whole image: libjpeg spends
# about 0.12 ms per megapixel per scan here, even on an empty 10-byte scan, so 100,000 empty
# scans in a 1 MB file of 7000x7000 kept a decode busy for 8 minutes, deaf to Ctrl-C. Real
# photos have 1 scan (baseline) or about 10 (progressive). Decoding is refused above this many
# megapixel-scans: 0.4 s of work, 60 scans at 50 MP, 250 for a 12 MP phone photo.
MAX_SCAN_WORK = 3000


def over_budget(held: int, adding: int, budget: int = DECODED_BUDGET) -> bool:
    """True when `adding` bytes of pixels to `held` (not empty) would pass the budget."""
    return held > 0 and held + adding > budget


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _is_jpeg(data: bytes) -> bool:
    return data[:2] == b"\xff\xd8"


def _truncated(name: str) -> ImageError:
    return ImageError(f"{name}: truncated JPEG (the file ends before the image does)")


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's start-of-frame marker, without decoding."""
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in _JPEG_SOF:
            return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(
                data[i + 5 : i + 7], "big"
            )
        i += 2 + length
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from a JPEG, PNG, BMP or WebP header; None when unknown."""
    if _is_jpeg(data):
        return _jpeg_size(data)
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"BM" and len(data) >= 26:
        w, h = struct.unpack("<ii", data[18:26])
        return abs(w), abs(h)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8X" and len(data) >= 30:
            return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(
                data[27:30], "little"
            )
        if chunk == b"VP8 " and len(data) >= 30:
            return (
                int.from_bytes(data[26:28], "little") & 0x3FFF,
                int.from_bytes(data[28:30], "little") & 0x3FFF,
            )
        if chunk == b"VP8L" and len(data) >= 25:
            bits = int.from_bytes(data[21:25], "little")
            return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


def _check_scans(data: bytes, pixels: float, name: str) -> None:
    """Refuse a JPEG whose scans would take the decoder far longer than any photo (see
    MAX_SCAN_WORK). In entropy-coded data a 0xFF byte is always followed by 0x00 or a restart
    marker, so every FF DA pair in the file starts a scan (an EXIF thumbnail adds its own).

    Raises:
        ImageError: more scans than the budget allows for this image's size.
    """
    scans = data.count(b"\xff\xda")
    megapixels = max(pixels / 1e6, 0.01)
    if scans * megapixels > MAX_SCAN_WORK:
        raise ImageError(
            f"{name}: a JPEG of {scans:,} scans over {megapixels:.1f} megapixels would take the "
            f"decoder about {scans * megapixels * 0.12 / 1000:.0f} s (photos have 1-15 scans; a "
            "decoding bomb?); refused"
        )


def _read_flags(data: bytes, name: str) -> int:
    """IMREAD_COLOR, or a reduced-size JPEG decode for images above MAX_PIXELS.

    Raises:
        ImageError: a truncated JPEG, or a non-JPEG image above MAX_PIXELS.
    """
    is_jpeg = _is_jpeg(data)
    if is_jpeg and b"\xff\xd9" not in data[-65536:]:
        raise _truncated(name)
    size = header_size(data)
    if size is None or size[0] * size[1] <= MAX_PIXELS:
        if is_jpeg and size is not None:
            _check_scans(data, size[0] * size[1], name)
        return cv2.IMREAD_COLOR
    pixels = size[0] * size[1]
    if is_jpeg:
        for factor, flag in _REDUCED.items():
            if pixels / factor**2 <= MAX_PIXELS:
                _check_scans(data, pixels / factor**2, name)
                return flag
    raise ImageError(
        f"{name}: {size[0]}x{size[1]} is {pixels / 1e6:.0f} megapixels, above the "
        f"{MAX_PIXELS / 1e6:.0f} MP limit; save a smaller copy (JPEGs up to "
        f"{64 * MAX_PIXELS / 1e6:.0f} MP are read at reduced size)"
    )


def decode_image(data: bytes, name: str = "<bytes>") -> Image:
    """Decode encoded image bytes into BGR uint8 HxWx3.

    IMREAD_COLOR turns grey, alpha, CMYK and 16-bit images into 8-bit BGR and applies the
    EXIF orientation, so phone photos come out upright. Memory stays bounded: see MAX_PIXELS.

    Raises:
        ImageError: empty, truncated, too large, or not an image OpenCV can read.
    """
    if not data:
        raise ImageError(f"{name}: empty file (0 bytes)")
    flags = _read_flags(data, name)
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except (cv2.error, MemoryError) as err:  # out of memory under a cap, a codec failure
        raise ImageError(
            f"{name}: OpenCV could not decode it (above the {MAX_PIXELS / 1e6:.0f} MP limit, "
            "or out of memory)"
        ) from err
    if image is None or image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
        if _is_jpeg(data) and not data.rstrip(b"\0 \r\n").endswith(b"\xff\xd9"):
            raise _truncated(name)
        raise ImageError(f"{name}: not a readable image (corrupt, truncated or another format)")
    return np.ascontiguousarray(image, dtype=np.uint8)


def read_image(path: str | os.PathLike[str]) -> Image:
    """Read an image file (any path, including non-ASCII) into BGR uint8 HxWx3.

    Raises:
        ImageError: the file is missing, unreadable, not a regular file, too large or not an
            image.
    """
    data, _ = read_file(path)
    return decode_image(data, str(path))


def read_grey_thumbnail(path: str | os.PathLike[str]) -> Image:
    """facequality.grey_thumbnail's greyscale thumbnail of an image file, decoded at reduced size where
    JPEG allows (1/4 above 1,000 px): what near-duplicate checks compare, at a fraction of a
    full decode. The same checks as read_image.

    Raises:
        ImageError: as read_image.
    """
    data, _ = read_file(path)
    if not data:
        raise ImageError(f"{path}: empty file (0 bytes)")
    flags = _read_flags(data, str(path))
    size = header_size(data)
    if flags != cv2.IMREAD_COLOR:
        flags = _GREY_OF[flags]
    elif _is_jpeg(data) and size is not None and min(size) >= 1000:
        flags = cv2.IMREAD_REDUCED_GRAYSCALE_4
    else:
        flags = cv2.IMREAD_GRAYSCALE
    try:
        grey = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except (cv2.error, MemoryError) as err:
        raise ImageError(f"{path}: OpenCV could not decode it") from err
    if grey is None or grey.size == 0:
        raise ImageError(f"{path}: not a readable image (corrupt, truncated or another format)")
    return grey_thumbnail(grey)


@dataclass(frozen=True, slots=True)
class DatasetItem:
    """One image of a folder-per-person dataset; `relpath` is relative to the dataset root."""

    person: str
    path: Path
    relpath: str


LINKED_FOLDER = "a link to a folder; not followed (move or copy the photos into the dataset)"


@dataclass(frozen=True, slots=True)
class DatasetProblem:
    """A folder of the dataset that was not read. `relpath` ends with "/". When `keep` is set
    (the folder exists but cannot be listed), its images' stored rows are kept, not deleted:
    a folder that is unreadable for a moment must not erase a person."""

    relpath: str
    reason: str
    keep: bool


@dataclass(frozen=True, slots=True)
class DatasetScan:
    items: tuple[DatasetItem, ...]
    problems: tuple[DatasetProblem, ...]


def dataset_path(dataset: str | os.PathLike[str]) -> Path:
    """A dataset argument as a folder: a path, or a `file://` URL.

    Raises:
        DatasetError: another kind of URL (object stores are not read yet).
    """
    text = os.fspath(dataset)
    if "://" not in text:  # a folder, even one named photos:2024
        return Path(text)
    url = urlparse(text)
    if url.scheme == "file":
        return Path(unquote(url.path))
    raise DatasetError(
        f"{text}: only folders and file:// URLs can be read; copy the photos to a folder "
        "(for Ray, one that every node mounts at the same path)"
    )


def scan_dataset(root: str | os.PathLike[str]) -> DatasetScan:
    """Every image under root/<person>/ (any depth), sorted, and the folders not read.

    Links to folders are not followed (a symlink loop cannot trap the walk, a folder outside
    the dataset is not enrolled, a link to another person does not enrol them twice); links to
    image files are read. A folder that cannot be listed is reported, never taken as empty.

    Raises:
        DatasetError: root is missing or not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: dataset folder not found (expected <dataset>/<person>/*.jpg)")
    items: list[DatasetItem] = []
    problems: list[DatasetProblem] = []

    def rel(path: str | Path) -> str:
        return Path(path).relative_to(base).as_posix() + "/"

    def unreadable(err: OSError) -> None:
        problems.append(
            DatasetProblem(
                rel(err.filename),
                f"cannot list ({err.strerror or err}); its stored faces are kept",
                True,
            )
        )

    for person_dir in sorted(p for p in base.iterdir() if not p.name.startswith(".")):
        if person_dir.is_symlink():
            if person_dir.is_dir():
                problems.append(DatasetProblem(rel(person_dir), LINKED_FOLDER, False))
            continue
        if not person_dir.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(person_dir, onerror=unreadable):
            for d in dirnames:
                if os.path.islink(os.path.join(dirpath, d)) and not d.startswith("."):
                    problems.append(DatasetProblem(rel(Path(dirpath) / d), LINKED_FOLDER, False))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                path = Path(dirpath) / filename
                if is_image_path(path):
                    items.append(
                        DatasetItem(person_dir.name, path, path.relative_to(base).as_posix())
                    )
    return DatasetScan(tuple(items), tuple(sorted(problems, key=lambda q: q.relpath)))


def scan_library(root: str | os.PathLike[str]) -> DatasetScan:
    """Every image under root at any depth, root's own included, for a photo library: nobody
    is named yet (person ""). Hidden folders and links to folders are not followed.

    Raises:
        DatasetError: root is missing or not a folder.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: photo folder not found")
    items = [DatasetItem("", path, path.relative_to(base).as_posix()) for path in list_images(base)]
    return DatasetScan(tuple(items), ())


def iter_dataset(root: str | os.PathLike[str]) -> Iterator[DatasetItem]:
    """The images of scan_dataset(root), without its report of folders not read."""
    yield from scan_dataset(root).items


def list_images(target: str | os.PathLike[str]) -> list[Path]:
    """An image file as a one-item list, or every image in a folder (recursively, sorted).

    Raises:
        ImageError: the path does not exist.
    """
    p = Path(target)
    if not p.exists():
        raise ImageError(f"{p}: no such file or folder")
    if not p.is_dir():  # a file, or a FIFO or device that read_file will refuse by name
        return [p]
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(p, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / f for f in sorted(filenames) if is_image_path(Path(f))]
    return found
