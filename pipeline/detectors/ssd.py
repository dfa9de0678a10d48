"""SsdDetector: the ResNet-10 SSD (the design card's detector) turns a BGR image into Detections."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.boxes import clip_box, iou, shrink
from pipeline.registry import ModelSpec
from pipeline.types import Detection, Image

# This SSD sometimes emits "ghost" boxes far outside the frame (seen on tight face crops);
# a box reaching further than this fraction beyond an edge is dropped.
_OUTSIDE_TOLERANCE = 0.1
# Tight face crops (the face fills the picture) are missed at 300x300; when nothing is found
# the image is padded by this fraction of its size on every side and searched again.
_TIGHT_CROP_PAD = 0.5
# The padded search runs on a copy at most this long (2x the net's input: nothing is lost).
_PADDED_SIDE = 600
# A first pass finding this many faces means a group photo: search again at its aspect ratio.
CROWD = 3


def _aspect_size(image: Image, short: int = 300, longest: int = 900) -> tuple[int, int]:
    """SSD input size with the image's aspect ratio: short side 300, long side at most 900."""
    h, w = image.shape[:2]
    scale = short / min(h, w)
    return min(longest, round(w * scale)), min(longest, round(h * scale))


class SsdDetector:
    """Owns the loaded SSD; build once and reuse. Keeps no per-call state."""

    def __init__(self, net: cv2.dnn.Net, spec: ModelSpec, confidence: float = 0.5) -> None:
        self.net = net
        self.spec = spec
        self.confidence = confidence

    def detect(self, image: Image, thorough: bool = True) -> list[Detection]:
        """Faces in one BGR image, best score first; [] when there is none.

        `thorough` (photos) adds two searches the first pass can need: a padded one when it
        finds nothing (tight face crops), and one at the image's own aspect ratio when it finds
        a crowd (CROWD faces or more: a 300x300 input squashes a wide group photo, and found
        30 of 50 faces in a 2:1 mosaic where the second pass finds all 50). Video frames skip
        both (`thorough=False`). The first pass alone decides every box it finds, so
        one-person photos get the same boxes, hence crops, in every command.

        One image per forward pass: the SSD's DetectionOutput layer fails on batches in
        cv2.dnn 5.0. A smaller first pass (160x160, a third of the cost) was tried for
        extraction and dropped: its boxes sit 20-35 px off, which moved FaceNet embeddings of
        the same photo by 0.15-0.37, so enrolled and query faces would no longer match crops.
        """
        found = self._detect_once(image)
        if not thorough:
            return found
        if not found:
            return self._detect_padded(image)
        if len(found) >= CROWD and (size := _aspect_size(image)) != self.spec.input_size:
            more = self._detect_once(image, size)
            found += [d for d in more if all(iou(d.box, f.box) < 0.3 for f in found)]
            found.sort(key=lambda d: -d.score)
        return found

    def _detect_once(self, image: Image, size: tuple[int, int] | None = None) -> list[Detection]:
        blob = cv2.dnn.blobFromImage(
            image,
            self.spec.scale,
            size or self.spec.input_size,
            self.spec.mean,
            swapRB=self.spec.swap_rb,
            crop=False,
        )
        self.net.setInput(blob)
        rows = self.net.forward().reshape(-1, 7)
        h, w = image.shape[:2]
        found: list[Detection] = []
        for row in rows[rows[:, 2] >= self.confidence]:
            x1, y1, x2, y2 = (float(v) for v in row[3:7])
            t = _OUTSIDE_TOLERANCE
            if x2 <= x1 or y2 <= y1 or min(x1, y1) < -t or max(x2, y2) > 1 + t:
                continue
            box = clip_box(np.array([x1 * w, y1 * h, x2 * w, y2 * h]), w, h)
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                found.append(Detection(box=box, score=float(row[2])))
        found.sort(key=lambda d: -d.score)
        return found

    def _detect_padded(self, image: Image) -> list[Detection]:
        """The padded search, on a copy no longer than _PADDED_SIDE on its long side: the net
        sees 300x300 anyway, and padding a 1x50000 strip at full size squared it (15 GB)."""
        h, w = image.shape[:2]
        small, scale = shrink(image, _PADDED_SIDE)
        pad = int(round(_TIGHT_CROP_PAD * max(small.shape[:2])))
        padded = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
        shifted = self._detect_once(padded)
        out = []
        for d in shifted:
            box = clip_box((d.box - np.float32(pad)) / np.float32(scale), w, h)
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2:
                out.append(Detection(box=box, score=d.score))
        return out
