"""Landmarker: MTCNN's O-Net run on each detector box gives 5 facial points and a tighter box.

Full MTCNN (P-Net pyramid + R-Net + O-Net) costs about 4x the SSD on a photo here; the SSD box
is already where R-Net would put its square (measured: MTCNN's final box is the SSD box to
within 2% in centre and scale), so only O-Net runs. See docs/design.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from pipeline.embedders.align import crop_padded
from pipeline.registry import ModelSpec
from pipeline.types import Detection, Image

_OUTPUTS = ["dense_5", "dense_6", "softmax_2"]  # box regression (4), points (10), face prob (2)


def square_box(box: NDArray[np.float32]) -> NDArray[np.float32]:
    """The square with the same centre whose side is the box's longer side (MTCNN's rerec)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], np.float32)


class Landmarker:
    """Owns the loaded O-Net; adds landmarks, an MTCNN-style box and a face score."""

    def __init__(self, net: cv2.dnn.Net, spec: ModelSpec) -> None:
        self.net = net
        self.spec = spec

    def refine(self, image: Image, detections: Sequence[Detection]) -> list[Detection]:
        """Return the detections with `landmarks`, `landmark_box` and `landmark_score` set.

        All faces of the image go through O-Net in one batch.
        """
        if not detections:
            return []
        squares = [square_box(d.box) for d in detections]
        crops = np.stack([crop_padded(image, s, self.spec.input_size) for s in squares])
        if self.spec.swap_rb:
            crops = crops[..., ::-1]
        blob = (crops.astype(np.float32) - np.float32(self.spec.mean[0])) * np.float32(
            self.spec.scale
        )
        # The ONNX export keeps Keras' transposed layout: (N, W, H, C).
        self.net.setInput(np.ascontiguousarray(blob.transpose(0, 2, 1, 3)))
        regression, points, probability = self.net.forward(_OUTPUTS)
        out = []
        for det, sq, reg, pts, prob in zip(
            detections, squares, regression, points, probability, strict=True
        ):
            side = float(sq[2] - sq[0])
            xs = sq[0] + pts[0:5] * side
            ys = sq[1] + pts[5:10] * side
            landmarks = np.stack([xs, ys], axis=1).astype(np.float32)
            tight = (sq + reg * side).astype(np.float32)
            out.append(
                Detection(
                    box=det.box,
                    score=det.score,
                    landmarks=landmarks,
                    landmark_box=tight,
                    landmark_score=float(prob[1]),
                )
            )
        return out
