"""YunetDetector: OpenCV's YuNet (`cv2.FaceDetectorYN`) turns a BGR image into Detections.

YuNet takes any input size and its cost grows with it (about 3 ms at 320x180, 10 ms at
640x360, 95 ms at 1080p here), so a photo is searched at most `spec.input_size[0]` pixels on
its long side; boxes are scaled back. It finds tight face crops without the SSD's padded
second search, and group photos without its second pass at the image's aspect ratio.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.boxes import clip_box, shrink
from pipeline.registry import ModelSpec
from pipeline.types import Detection, Image


class YunetDetector:
    """Owns one cv2.FaceDetectorYN; build once and reuse. Not thread-safe (its input size is
    state), like every cv2.dnn net here."""

    def __init__(self, model: bytes, spec: ModelSpec, confidence: float) -> None:
        self.spec = spec
        self.confidence = confidence
        logging = cv2.utils.logging
        level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)  # a warning about targets it ignores
        try:
            self.net = cv2.FaceDetectorYN.create(
                "onnx",
                np.frombuffer(model, np.uint8),
                np.zeros(0, np.uint8),
                spec.input_size,
                confidence,
                spec.nms,
                5000,
            )
        finally:
            logging.setLogLevel(level)

    def detect(self, image: Image, thorough: bool = True) -> list[Detection]:
        """Faces in one BGR image, best score first; [] when there is none. `thorough` has no
        second pass to add here: one search finds tight crops and crowds alike."""
        h, w = image.shape[:2]
        small, scale = shrink(image, self.spec.input_size[0])
        self.net.setInputSize((small.shape[1], small.shape[0]))
        _, rows = self.net.detect(small)
        found: list[Detection] = []
        for row in () if rows is None else rows:
            x, y, bw, bh = (float(v) / scale for v in row[:4])
            box = clip_box(np.array([x, y, x + bw, y + bh]), w, h)
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                # YuNet's own 5 points (image-left eye first, as types.py orders them); the
                # landmark stage replaces them with O-Net's, which align SFace better
                points = (row[4:14].reshape(5, 2) / scale).astype(np.float32)
                found.append(Detection(box=box, score=float(row[14]), landmarks=points))
        found.sort(key=lambda d: -d.score)
        return found
