"""annotate: draw boxes and labels on a copy of an image (never in place).

Labels are laid out by labels.py: inside the image, never over one another, shortened when the
detailed one does not fit ("unknown (alex lacamoire? d=1.16)" -> "unknown" -> "?"). Text size
follows the image: about 11 px high on a 300-360 px image, 3% of the short side above that.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2

from pipeline.labels import Placed, Rect, layout
from pipeline.types import Detection, Image, Match, RecognizedFace

KNOWN_COLOUR = (60, 200, 60)  # BGR
UNKNOWN_COLOUR = (40, 40, 230)
DETECTED_COLOUR = (230, 160, 30)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_PAD = 2  # pixels around the text inside its filled rectangle


def _style(image: Image) -> tuple[float, int]:
    """Font scale and line thickness that follow the image's size: labels at least about 11 px
    high (a 360p video frame), about 3% of the short side above that."""
    font = max(0.45, min(image.shape[:2]) / 720.0)
    return font, max(1, int(round(2 * font)))


def label_height(image: Image) -> int:
    """Pixel height of a label's text on this image (for tests and layout)."""
    font, thickness = _style(image)
    (_, height), base = cv2.getTextSize("Ag", _FONT, font, thickness)
    return height + base


def match_texts(match: Match) -> list[str]:
    """A face's label texts, most detailed first: the answer and the distance that decided it,
    and for a stranger who was nearest."""
    if match.name is not None:
        name = match.name.replace("_", " ")
        return [f"{name} d={match.distance:.2f}", name]
    if match.candidate is not None:
        candidate = match.candidate.replace("_", " ")
        return [
            f"unknown ({candidate}? d={match.distance:.2f})",
            f"unknown ({candidate}?)",
            "unknown",
            "?",
        ]
    return ["unknown", "?"]


def _paint(
    out: Image,
    boxes: Sequence[list[int]],
    texts: Sequence[Sequence[str]],
    colours: Sequence[tuple[int, int, int]],
) -> list[Placed]:
    """Boxes first, then the labels where labels.layout puts them; returns the layout."""
    font, thickness = _style(out)
    height, width = out.shape[:2]

    def measure(text: str) -> tuple[int, int]:
        (tw, th), base = cv2.getTextSize(text, _FONT, font, thickness)
        return tw + 2 * _PAD, th + base + 2 * _PAD

    for box, colour in zip(boxes, colours, strict=True):
        x1, y1, x2, y2 = box
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
    rects: list[Rect] = [(b[0], b[1], b[2], b[3]) for b in boxes]
    placed = layout(width, height, rects, texts, measure)
    for label in placed:
        x1, y1, x2, y2 = label.rect
        cv2.rectangle(out, (x1, y1), (x2 - 1, y2 - 1), colours[label.face], cv2.FILLED)
        (_, th), _ = cv2.getTextSize(label.text, _FONT, font, thickness)
        cv2.putText(
            out,
            label.text,
            (x1 + _PAD, y1 + _PAD + th),
            _FONT,
            font,
            (255, 255, 255),
            thickness,
            cv2.LINE_AA,
        )
    return placed


def draw_detections(image: Image, found: Sequence[Detection]) -> Image:
    """A copy of `image` with each face's box, score and 5 landmarks (facerec detect)."""
    out = image.copy()
    _, thickness = _style(out)
    _paint(
        out,
        [d.box_list() for d in found],
        [[f"{d.score:.2f}"] for d in found],
        [DETECTED_COLOUR] * len(found),
    )
    for d in found:
        for x, y in () if d.landmarks is None else d.landmarks:
            cv2.circle(out, (int(x), int(y)), thickness + 1, DETECTED_COLOUR, cv2.FILLED)
    return out


def annotate_layout(image: Image, faces: Sequence[RecognizedFace]) -> tuple[Image, list[Placed]]:
    """annotate(), and where each label went (the tests measure it)."""
    out = image.copy()
    colours = [KNOWN_COLOUR if f.match.name is not None else UNKNOWN_COLOUR for f in faces]
    placed = _paint(
        out, [f.detection.box_list() for f in faces], [match_texts(f.match) for f in faces], colours
    )
    return out, placed


def annotate(image: Image, faces: Sequence[RecognizedFace]) -> Image:
    """A copy of `image` with each face's box and label drawn on it: "obama d=0.53", or
    "unknown (obama? d=1.12)": the distance that decided, and for a stranger who was nearest;
    shorter where that does not fit."""
    return annotate_layout(image, faces)[0]
