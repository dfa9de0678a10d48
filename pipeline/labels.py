"""Where each face's label goes on an annotated image: inside the image, never over another label.

Pure geometry (draw.py measures the text and paints). Each face offers its label texts from the
most to the least detailed ("unknown (alex lacamoire? d=1.16)", then "unknown (alex
lacamoire?)", "unknown", "?"). Faces are placed top to bottom; for each, every text is tried at
every spot (above its box, below it, inside it at the top or bottom; aligned left, right or
centred, slid back inside the image), first where it covers neither a placed label nor another
face, then where it covers no placed label. A face whose shortest text fits nowhere keeps its
box without a label rather than hide another one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2, exclusive of x2, y2


@dataclass(frozen=True, slots=True)
class Placed:
    """One label: the face it belongs to (its index), its text and its filled rectangle."""

    face: int
    text: str
    rect: Rect


def overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _spots(box: Rect, width: int, height: int, size: tuple[int, int]) -> list[Rect]:
    """Candidate rectangles of `size` around a face box, best first, all inside the image."""
    lw, lh = size
    if lw > width or lh > height:
        return []
    x1, y1, x2, y2 = box
    out = []
    for y in (y1 - lh, y2, y1, y2 - lh):  # above, below, inside top, inside bottom
        if y < 0 or y + lh > height:
            continue
        for x in (x1, x2 - lw, (x1 + x2 - lw) // 2):
            x = min(max(0, x), width - lw)
            rect = (x, y, x + lw, y + lh)
            if rect not in out:
                out.append(rect)
    return out


def layout(
    width: int,
    height: int,
    boxes: Sequence[Rect],
    texts: Sequence[Sequence[str]],
    measure: Callable[[str], tuple[int, int]],
) -> list[Placed]:
    """A label for as many faces as fit, none outside the image or over another label.

    `texts[i]` are face i's label texts, most detailed first; `measure(text)` gives the
    (width, height) of a text's filled rectangle.
    """
    placed: list[Placed] = []
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0]))
    for i in order:
        others = [b for j, b in enumerate(boxes) if j != i]
        best = None
        for strict in (True, False):  # first also keep off other faces
            for text in texts[i]:
                for rect in _spots(boxes[i], width, height, measure(text)):
                    if any(overlaps(rect, p.rect) for p in placed):
                        continue
                    if strict and any(overlaps(rect, b) for b in others):
                        continue
                    best = Placed(i, text, rect)
                    break
                if best:
                    break
            if best:
                break
        if best is not None:
            placed.append(best)
    return placed
