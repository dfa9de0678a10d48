"""How sharp and how bright a face is, and what the whole picture looks like in 32x32 grey,
measured once when it is embedded and kept in the store, so `facerec audit` can flag faces too
blurred or too dark, and compare near-identical pictures, without reading every photo again."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from pipeline.types import Image

SIDE = 64  # faces are measured at one size, so sharpness does not depend on resolution
THUMB = 32  # the picture's side for the duplicate check (imageio.read_grey_thumbnail's)


def grey_thumbnail(image: Image) -> Image:
    """The whole picture as THUMB x THUMB grey pixels."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return cv2.resize(grey, (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def face_quality(
    image: Image, box: Sequence[float] | np.ndarray
) -> tuple[float, float, str] | None:
    """(sharpness, brightness, thumbnail) of the face in `box` (x1, y1, x2, y2 in pixels): the variance of
    the Laplacian of the grey face at SIDE x SIDE over the variance of the face itself (so a
    dark or low-contrast face is not taken for a blurred one), its mean grey level (0-255), and
    the whole picture's grey_thumbnail as hex. None when the box holds no pixels of the image."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    x1, y1, x2, y2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    face = image[y1:y2, x1:x2]
    grey = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
    small = cv2.resize(grey, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    spread = float(small.var())
    sharpness = float(cv2.Laplacian(small, cv2.CV_64F).var()) / spread if spread > 1e-6 else 0.0
    return round(sharpness, 4), round(float(small.mean()), 2), grey_thumbnail(image).tobytes().hex()
