"""Enrol one photo into a gallery: the file into `<dataset>/<person>/`, its face into the store
(what extract-embeddings would have stored for it), in that order and durably.

Used by the server's enrolments and by `facerec cluster --name`. A face picked out of a photo
of several people is enrolled as a crop around it (crop_around), so that it is the crop's main
face when extract-embeddings reads the folder again.
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path

import cv2
import numpy as np

from pipeline.atomic import fsync_folder, write_bytes
from pipeline.boxes import clip_box
from pipeline.errors import FaceRecError, NameTaken
from pipeline.extract import image_record
from pipeline.imageio import DatasetItem
from pipeline.stores.records import ImageRecord, Store
from pipeline.types import Image, ImageFaces

# How much of the photo around a named face is kept: the face's box grown to 2.5 times its
# longer side, so that the face is the crop's main face, with context for the detector.
CROP_SCALE = 2.5


def crop_around(image: Image, box: np.ndarray, scale: float = CROP_SCALE) -> Image:
    """A square part of `image` centred on `box`, `scale` times its longer side (clipped)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    half = max(x2 - x1, y2 - y1) * scale / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    h, w = image.shape[:2]
    square = np.array([cx - half, cy - half, cx + half, cy + half])
    a, b, c, d = (int(round(float(v))) for v in clip_box(square, w, h))
    return np.ascontiguousarray(image[b:d, a:c])


def png_bytes(image: Image) -> bytes:
    """Lossless, so the stored file decodes to exactly the pixels that were embedded."""
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise FaceRecError("OpenCV could not encode the face as PNG")
    return encoded.tobytes()


def enrolment_relpath(person: str, data: bytes, suffix: str) -> str:
    """Where a photo goes in the dataset: named by its content, so the same photo twice is
    the same file."""
    return f"{person}/{hashlib.sha256(data).hexdigest()[:16]}{suffix}"


def enrol_photo(
    store: Store,
    dataset: Path,
    person: str,
    data: bytes,
    suffix: str,
    image: Image,
    found: ImageFaces,
) -> ImageRecord:
    """Write `data` (decoded: `image`; embedded: `found`) as the person's photo, then its row;
    returns the row. The file is fsynced, renamed and its folder fsynced before the row is
    committed; if the row cannot be written the file is removed, so nothing half-enrolled
    is found by the next extract-embeddings.

    Raises:
        FaceRecError: the file cannot be written (full disk, read-only folder).
        StoreError: the row cannot be written.
    """
    relpath = enrolment_relpath(person, data, suffix)
    path = dataset / relpath
    write_bytes(path, data)
    fsync_folder(dataset)
    st = path.stat()
    item = DatasetItem(person, path, relpath)
    digest = hashlib.sha256(data).hexdigest()
    record = image_record(
        item, digest, st.st_size, st.st_mtime_ns, image, found, all_faces=store.all_faces
    )
    try:
        store.upsert([record])
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return record


def no_file_there(folder: Path) -> None:
    """A person's folder cannot be made where the dataset holds a file of that name.

    Raises:
        NameTaken: there is a file (or link) of that name in the dataset.
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise NameTaken(
            f"{folder.name!r} is a file in the dataset folder, not a person's "
            "folder; pick another name"
        )
