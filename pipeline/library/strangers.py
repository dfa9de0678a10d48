"""--keep-unknown: a crop of every face nobody is named for, kept for `facerec cluster` to group
into recurring strangers ("this face came back 14 times").

Each crop is a PNG (2.5 times the face's box, as enrolment crops are) named by when the face
was seen, with that time as its modification time; the cluster report turns the times of a
group's crops into how often and when that stranger was seen. In a video the same stranger
stays in view for many frames: a face is kept again only after `gap` seconds, or when it is
somewhere else in the frame.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pipeline.atomic import write_bytes
from pipeline.boxes import iou
from pipeline.enrol import crop_around, png_bytes
from pipeline.types import Image, RecognizedFace

# Written into a folder of kept strangers: its files' times are sightings, which the cluster
# report then shows as "seen"; in other photo folders they are only file times.
SIGHTINGS = ".facerec-sightings"


class StrangerKeeper:
    """Writes the unknown faces it is shown into `folder`; counts them in `kept`."""

    def __init__(self, folder: str | os.PathLike[str], gap: float = 5.0) -> None:
        self.folder = Path(folder)
        self.gap = gap
        self.kept = 0
        self._recent: list[tuple[float, np.ndarray]] = []  # (seen, box) of faces kept lately

    def keep(self, image: Image, faces: Iterable[RecognizedFace], seen: float, source: str) -> int:
        """Keep the unknown ones among `faces` of `image`, seen at `seen` (seconds since the
        epoch) in `source`; returns how many were written."""
        self._recent = [(t, b) for t, b in self._recent if seen - t < self.gap]
        faces = list(faces)
        written = 0
        for face in faces:
            if face.match.name is not None:
                continue
            box = np.asarray(face.detection.box, np.float32)
            if any(iou(box, b) >= 0.3 for _, b in self._recent):
                continue  # the same stranger, still in view
            crop = crop_around(_blank_others(image, box, faces), box)
            if crop.size == 0:
                continue
            data = png_bytes(crop)
            if not (self.folder / SIGHTINGS).exists():
                write_bytes(
                    self.folder / SIGHTINGS,
                    b"facerec --keep-unknown: each crop's file time is when that face was seen\n",
                )
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(seen))
            tag = hashlib.sha256(data + source.encode()).hexdigest()[:10]
            path = self.folder / f"{stamp}-{tag}.png"
            write_bytes(path, data)
            os.utime(path, (seen, seen))
            self._recent.append((seen, box))
            written += 1
        self.kept += written
        return written


def _blank_others(image: Image, box: np.ndarray, faces: list[RecognizedFace]) -> Image:
    """The image with every other face filled grey, so that a crop holds one face only (in a
    group photo the crop around one face reaches into its neighbours)."""
    out = None
    for other in faces:
        b = np.asarray(other.detection.box, np.float32)
        if iou(b, box) > 0.5:
            continue
        out = image.copy() if out is None else out
        x1, y1, x2, y2 = (int(round(float(v))) for v in b)
        out[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = 127
    return image if out is None else out
