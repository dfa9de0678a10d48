"""Pure geometry: cut each face out the way its embedder was trained, as (N, S, S, 3) BGR uint8.

Two ways, chosen by the embedder's ModelSpec.crop:
- "box": the MTCNN-style landmark box widened by `margin` (the fraction of the crop side left
  around the box) and resized. This is how FaceNet 20180408 was trained (MTCNN box + 32 px
  margin at 160 px, so margin 0.2).
- "align5": a similarity transform taking the 5 landmarks onto ArcFace's template, the crop
  SFace was trained on (cv2.FaceRecognizerSF.alignCrop makes the same one).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.registry import ModelSpec
from pipeline.types import Detection, Image

# ArcFace's 5-point template for a 112x112 crop, as fractions of the side.
ARCFACE_TEMPLATE = (
    np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ],
        np.float32,
    )
    / 112.0
)


def widen_box(box: NDArray[np.float32], margin: float) -> NDArray[np.float32]:
    """Grow an xyxy box so that it fills (1 - margin) of the result's side, keeping its centre."""
    x1, y1, x2, y2 = (float(v) for v in box)
    grow = 1.0 / (1.0 - margin) if margin < 1 else 1.0
    dw, dh = (x2 - x1) * (grow - 1) / 2, (y2 - y1) * (grow - 1) / 2
    return np.array([x1 - dw, y1 - dh, x2 + dw, y2 + dh], np.float32)


def crop_padded(image: Image, box: NDArray[np.float32], size: tuple[int, int]) -> Image:
    """Cut an xyxy box out of the image, black where it leaves the frame, resized to size (w, h).

    Black padding (not clipping) keeps the face at the scale the net was trained on when the
    photo is itself a tight face crop: clipping cost FaceNet 18 points of AUC on such crops.
    """
    x1, y1, x2, y2 = (int(round(float(v))) for v in box)
    h, w = image.shape[:2]
    patch = np.zeros((max(1, y2 - y1), max(1, x2 - x1), 3), np.uint8)
    sx1, sy1, sx2, sy2 = max(0, x1), max(0, y1), min(w, x2), min(h, y2)
    if sx2 > sx1 and sy2 > sy1:
        patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
    return cv2.resize(patch, size, interpolation=cv2.INTER_AREA)


def similarity_matrix(
    source: NDArray[np.float32], target: NDArray[np.float32]
) -> NDArray[np.float64]:
    """The 2x3 least-squares similarity transform (rotation, uniform scale, shift, no mirror)
    taking `source` points onto `target` (Umeyama 1991): what cv2.FaceRecognizerSF.alignCrop
    computes, so a warp made here equals OpenCV's own crop for SFace (tests/test_geometry.py)."""
    src = np.asarray(source, np.float64)
    dst = np.asarray(target, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, s, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rotation = u @ np.diag(d) @ vt
    variance = float((src_c**2).sum()) / len(src)
    scale = float((s * d).sum()) / variance if variance > 1e-12 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def warp_face(
    image: Image, landmarks: NDArray[np.float32], template: NDArray[np.float32], size: int
) -> Image:
    """Warp the face so its 5 landmarks land on `template` (fractions of the side) at size x size."""
    matrix = similarity_matrix(landmarks, template * np.float32(size))
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=0)


def face_crops(image: Image, detections: Sequence[Detection], spec: ModelSpec) -> Image:
    """Crops for every detection, shaped (N, S, S, 3) BGR uint8, as `spec` wants them."""
    width, height = spec.input_size
    crops = []
    for det in detections:
        if spec.crop == "align5" and det.landmarks is not None:
            crops.append(warp_face(image, det.landmarks, ARCFACE_TEMPLATE, width))
        else:
            box = det.box
            if spec.crop != "detector" and det.landmark_box is not None:
                box = det.landmark_box
            crops.append(crop_padded(image, widen_box(box, spec.margin), (width, height)))
    if not crops:
        return np.zeros((0, height, width, 3), np.uint8)
    return np.stack(crops)
