"""annotate: draw boxes and labels on a copy of an image (never in place)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2

from .types import Detection, Image, RecognizedFace

KNOWN_COLOUR = (60, 200, 60)  # BGR
UNKNOWN_COLOUR = (40, 40, 230)


DETECTED_COLOUR = (230, 160, 30)


def _style(image: Image) -> tuple[float, int]:
    """Font scale and line thickness that follow the image's size: labels at least about 11 px
    high (a 360p video frame), about 3% of the short side above that."""
    font = max(0.45, min(image.shape[:2]) / 720.0)
    return font, max(1, int(round(2 * font)))


def label_height(image: Image) -> int:
    """Pixel height of a label's text on this image (for tests and layout)."""
    font, thickness = _style(image)
    (_, height), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, font, thickness)
    return height + base


def _label(out: Image, box: list[int], text: str, colour: tuple[int, int, int]) -> None:
    font, thickness = _style(out)
    x1, y1, x2, y2 = box
    cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thickness)
    top = y1 - th - base - 4 if y1 - th - base - 4 >= 0 else y2
    cv2.rectangle(out, (x1, top), (x1 + tw + 4, top + th + base + 4), colour, cv2.FILLED)
    cv2.putText(out, text, (x1 + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, font,
                (255, 255, 255), thickness, cv2.LINE_AA)  # fmt: skip


def draw_detections(image: Image, found: Sequence[Detection]) -> Image:
    """A copy of `image` with each face's box, score and 5 landmarks (facerec detect)."""
    out = image.copy()
    _, thickness = _style(out)
    for d in found:
        _label(out, d.box_list(), f"{d.score:.2f}", DETECTED_COLOUR)
        for x, y in () if d.landmarks is None else d.landmarks:
            cv2.circle(out, (int(x), int(y)), thickness + 1, DETECTED_COLOUR, cv2.FILLED)
    return out


def annotate(image: Image, faces: Sequence[RecognizedFace]) -> Image:
    """A copy of `image` with each face's box and label drawn on it: "obama d=0.53", or
    "unknown (obama? d=1.12)": the distance that decided, and for a stranger who was nearest."""
    out = image.copy()
    for face in faces:
        colour = KNOWN_COLOUR if face.match.name is not None else UNKNOWN_COLOUR
        m = face.match
        if m.name is not None:
            text = f"{m.name.replace('_', ' ')} d={m.distance:.2f}"
        elif m.candidate is not None:
            text = f"unknown ({m.candidate.replace('_', ' ')}? d={m.distance:.2f})"
        else:
            text = "unknown"
        _label(out, face.detection.box_list(), text, colour)
    return out
