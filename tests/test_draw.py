"""Annotated photos stay readable: every label inside the image, none over another, at 300 px,
as the photo is and at 4K, on the repository's group photos (real faces, real answers)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import BBT, EXAMPLES

from pipeline.classify import IdentityClassifier
from pipeline.draw import KNOWN_COLOUR, UNKNOWN_COLOUR, annotate_layout, label_height
from pipeline.labels import layout, overlaps

GROUPS = [
    EXAMPLES / "bbt1.jpg",
    EXAMPLES / "obama_and_biden.jpg",
    EXAMPLES / "kit_with_rose.jpg",
    *sorted(BBT.glob("bbt*.jpg")),
]


@pytest.fixture(scope="module")
def named(recognizer, trained):
    recognizer.classifier = IdentityClassifier.load(trained["model"])
    yield recognizer
    recognizer.classifier = None


@pytest.mark.parametrize("width", [300, None, 3840], ids=["300px", "as-is", "4K"])
@pytest.mark.parametrize("photo", GROUPS, ids=[p.name for p in GROUPS])
def test_labels_never_overlap_or_leave_the_image(named, photo, width) -> None:
    image = cv2.imread(str(photo))
    if width is not None:
        image = cv2.resize(image, (width, round(image.shape[0] * width / image.shape[1])))
    faces = named.recognize(image)
    out, placed = annotate_layout(image, faces)
    h, w = image.shape[:2]
    assert len(faces) >= 2 and len(placed) == len(faces)  # every face labelled, here
    for n, label in enumerate(placed):
        x1, y1, x2, y2 = label.rect
        assert 0 <= x1 < x2 <= w and 0 <= y1 < y2 <= h, label
        assert not any(overlaps(label.rect, other.rect) for other in placed[n + 1 :]), label
        colour = KNOWN_COLOUR if faces[label.face].match.name else UNKNOWN_COLOUR
        assert tuple(int(v) for v in out[y1 + 1, x1 + 1]) == colour  # painted where laid out
    assert label_height(image) >= 10 and label_height(image) >= 0.025 * min(h, w)


def test_a_label_that_fits_nowhere_is_left_out_rather_than_drawn_over_another() -> None:
    """Two faces side by side in a strip too low for a label beside them: one label (the
    first face's, above, short) and the other face keeps only its box."""
    boxes = [(0, 20, 40, 60), (40, 20, 80, 60)]

    def measure(text: str) -> tuple[int, int]:
        return 8 * len(text), 20

    placed = layout(80, 60, boxes, [["unknown", "?"], ["unknown", "?"]], measure)
    assert [(p.face, p.text) for p in placed] == [(0, "unknown"), (1, "?")]
    assert not overlaps(placed[0].rect, placed[1].rect)
    crowded = layout(20, 20, [(0, 0, 20, 20), (0, 0, 20, 20)], [["??"], ["??"]], lambda t: (16, 20))
    assert len(crowded) == 1
    assert np.all([0 <= v <= 20 for v in crowded[0].rect])
