"""annotate: draw boxes and labels on a copy of an image (never in place)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2

from .types import Image, RecognizedFace

KNOWN_COLOUR = (60, 200, 60)  # BGR
UNKNOWN_COLOUR = (40, 40, 230)


def annotate(image: Image, faces: Sequence[RecognizedFace]) -> Image:
    """A copy of `image` with each face's box and label drawn on it: "obama d=0.53", or
    "unknown (obama? d=1.12)": the distance that decided, and for a stranger who was nearest."""
    out = image.copy()
    scale = max(0.4, min(out.shape[:2]) / 900.0)
    thickness = max(1, int(round(2 * scale)))
    for face in faces:
        x1, y1, x2, y2 = face.detection.box_list()
        colour = KNOWN_COLOUR if face.match.name is not None else UNKNOWN_COLOUR
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        m = face.match
        if m.name is not None:
            text = f"{m.name.replace('_', ' ')} d={m.distance:.2f}"
        elif m.candidate is not None:
            text = f"unknown ({m.candidate.replace('_', ' ')}? d={m.distance:.2f})"
        else:
            text = "unknown"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale, thickness)
        top = y1 - th - base - 4 if y1 - th - base - 4 >= 0 else y2
        cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 4), colour, cv2.FILLED)
        cv2.putText(out, text, (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6 * scale,
                    (255, 255, 255), thickness, cv2.LINE_AA)  # fmt: skip
    return out
