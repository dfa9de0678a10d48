"""Box geometry shared by the detectors and the tracker: xyxy boxes as float arrays, and the
downscaled copy a detector searches (boxes found there are divided by its scale)."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import Image


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two xyxy boxes."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def clip_box(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip an xyxy box to the image, as float32."""
    out = np.asarray(box, dtype=np.float32).copy()
    out[[0, 2]] = np.clip(out[[0, 2]], 0, width)
    out[[1, 3]] = np.clip(out[[1, 3]], 0, height)
    return out


def shrink(image: Image, longest: int) -> tuple[Image, float]:
    """A copy at most `longest` pixels on its long side (INTER_AREA), and its scale (1.0 and
    the image itself when it is small enough)."""
    h, w = image.shape[:2]
    scale = min(1.0, longest / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale
