"""Pure geometry, no models: box widening, padded crops, the similarity transform."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.boxes import clip_box
from pipeline.detectors.landmarks import square_box
from pipeline.embedders.align import ARCFACE_TEMPLATE, crop_padded, similarity_matrix, widen_box


def test_widen_box_leaves_margin_fraction_of_the_crop() -> None:
    box = np.array([100, 100, 180, 200], np.float32)
    wide = widen_box(box, 0.2)
    assert wide[2] - wide[0] == pytest.approx(80 / 0.8)
    assert wide[3] - wide[1] == pytest.approx(100 / 0.8)
    assert (wide[0] + wide[2]) / 2 == pytest.approx(140)


def test_crop_padded_fills_outside_with_black() -> None:
    image = np.full((50, 50, 3), 200, np.uint8)
    crop = crop_padded(image, np.array([-50, 0, 50, 50], np.float32), (20, 10))
    assert crop.shape == (10, 20, 3)
    assert crop[:, :9].max() == 0 and crop[:, 11:].min() == 200


def test_similarity_matrix_recovers_a_known_rotation_scale_and_shift() -> None:
    angle, scale, shift = np.deg2rad(17.0), 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    source = ARCFACE_TEMPLATE * 100
    target = (source @ rot.T + shift).astype(np.float32)
    matrix = similarity_matrix(source, target)
    np.testing.assert_allclose(matrix[:, :2], rot, atol=1e-4)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-3)


def test_template_maps_onto_itself() -> None:
    points = (ARCFACE_TEMPLATE * 112).astype(np.float32)
    np.testing.assert_allclose(similarity_matrix(points, points), np.eye(2, 3), atol=1e-5)


def test_square_box_and_clip_box() -> None:
    np.testing.assert_allclose(square_box(np.array([0, 0, 10, 20], np.float32)), [-5, 0, 15, 20])
    np.testing.assert_allclose(clip_box(np.array([-3, 5, 120, 90]), 100, 80), [0, 5, 100, 80])


def test_labels_follow_the_frame_size() -> None:
    """A 360p video frame got labels about 8 px high; now about 5% of the short side, at
    least 14 px, and never a large share of a small picture."""
    import numpy as np

    from pipeline.draw import label_height

    for height, width in ((360, 640), (250, 250), (1080, 1920), (1428, 2000)):
        size = label_height(np.zeros((height, width, 3), np.uint8))
        assert 14 <= size <= 0.07 * min(height, width), (height, width, size)
