"""The work an inference worker does around the core step: decode the upload within the
limits, turn an OpenCV failure into the API's error, prepare a photo for enrolment, draw."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np

from pipeline.boxes import iou
from pipeline.core import FaceRecognizer, main_face, opencv_failure
from pipeline.draw import annotate
from pipeline.enrol import crop_around, png_bytes
from pipeline.errors import ImageError
from pipeline.imageio import decode_image, header_size
from pipeline.server.problems import ApiError
from pipeline.types import Image, ImageFaces, RecognizedFace

T = TypeVar("T")
_SUFFIXES = {b"\xff\xd8\xff": ".jpg", b"\x89PNG": ".png", b"BM": ".bmp"}


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may ask for."""

    upload_bytes: int = 20 << 20
    pixels: int = 50_000_000
    faces: int = 50
    rate: float = 10.0  # requests a second per client address; 0 = no limit
    burst: int = 20
    # request bodies held at once by every request together (a chunked body counts as the
    # upload limit until read): three full uploads; more are answered 503 busy
    in_flight_bytes: int = 60 << 20
    body_seconds: float = 30.0  # a whole body must arrive within this, or 408


def read_upload(data: bytes, limits: Limits) -> Image:
    """The uploaded bytes as a BGR image, or the API's 4xx error."""
    if not data:
        raise ApiError(400, "empty_file", "the file is empty (0 bytes)")
    size = header_size(data)
    if size is not None and size[0] * size[1] > limits.pixels:
        raise ApiError(
            413,
            "too_many_pixels",
            f"{size[0]}x{size[1]} is above the {limits.pixels / 1e6:g} megapixel limit",
        )
    try:
        return decode_image(data, "the upload")
    except ImageError as err:
        raise ApiError(400, "not_an_image", str(err)) from err


def opencv(job: Callable[[], T]) -> T:
    """`job()`, with an OpenCV failure (out of memory, an image it cannot handle) as a 422."""
    try:
        return job()
    except (cv2.error, MemoryError) as err:
        raise ApiError(422, "cannot_process", opencv_failure(err)) from err


def suffix_of(data: bytes) -> str | None:
    """The dataset suffix for these bytes' format, None for a format the dataset does not read."""
    for magic, suffix in _SUFFIXES.items():
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return None


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A photo ready to be enrolled: the bytes to store, their suffix, decoded, embedded."""

    data: bytes
    suffix: str
    image: Image
    faces: ImageFaces
    box: list[int]


def prepare_enrolment(
    recognizer: FaceRecognizer,
    data: bytes,
    limits: Limits,
    box: list[float] | None,
    every_face: bool,
) -> Enrolment:
    """What enrolling this photo stores. Without `box`, the photo as sent (its main face is the
    person's). With `box`, a crop around the detected face nearest that box, stored as PNG, so
    that the face named is the crop's main face (a group photo would otherwise enrol whoever
    is its main face when extract-embeddings reads it again)."""
    image = read_upload(data, limits)
    suffix = suffix_of(data)
    if box is not None:
        found = opencv(lambda: recognizer.find_faces(image, max_faces=limits.faces))
        want = np.asarray(box, np.float32)
        best = max(found, key=lambda d: iou(d.box, want), default=None)
        if best is None or iou(best.box, want) < 0.3:
            raise ApiError(422, "no_face", "no face found at that box")
        image = crop_around(image, best.box)
        data, suffix = png_bytes(image), ".png"
    elif suffix is None:  # a format the dataset folder would not list (TIFF, ...): store PNG
        data, suffix = png_bytes(image), ".png"
    [faces] = recognizer.embed_images([image], every_face)
    if faces.error is not None:
        raise ApiError(422, "cannot_process", faces.error)
    if not faces.detections:
        raise ApiError(422, "no_face", "no face found in the image")
    h, w = image.shape[:2]
    chosen = main_face(faces.detections, w, h)
    return Enrolment(data, suffix, image, faces, chosen.box_list())


def jpeg_data_url(image: Image, quality: int = 85) -> str:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ApiError(422, "cannot_process", "OpenCV could not encode the annotated image")
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode()


def annotated(image: Image, faces: list[RecognizedFace]) -> str:
    return jpeg_data_url(annotate(image, faces))


def thumbnail(image: Image, box: list[float] | None, side: int = 128) -> bytes:
    """A JPEG of the face at `box` (grown by half), `side` pixels on its longer edge."""
    part = crop_around(image, np.asarray(box, np.float32), 1.5) if box else image
    h, w = part.shape[:2]
    scale = side / max(h, w)
    small = cv2.resize(
        part, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    ok, encoded = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise ImageError("cannot encode the thumbnail")
    return encoded.tobytes()
