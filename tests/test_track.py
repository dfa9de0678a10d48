"""FaceTracker: box matching by hand, and on the Hamilton clip against the per-frame answers."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import CLIP

from pipeline.classify import IdentityClassifier
from pipeline.video.track import FaceTracker, iou, match_boxes


def box(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
    return np.array([x1, y1, x2, y2], np.float32)


def test_iou_by_hand() -> None:
    assert iou(box(0, 0, 10, 10), box(0, 0, 10, 10)) == pytest.approx(1.0)
    # overlap 5x10 = 50; union 100 + 100 - 50 = 150
    assert iou(box(0, 0, 10, 10), box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert iou(box(0, 0, 10, 10), box(20, 20, 30, 30)) == 0.0


def test_match_boxes_is_greedy_one_to_one_above_the_floor() -> None:
    tracks = [box(0, 0, 10, 10), box(100, 100, 110, 110)]
    found = [box(101, 101, 111, 111), box(1, 0, 11, 10), box(50, 50, 60, 60)]
    assert sorted(match_boxes(tracks, found)) == [(0, 1), (1, 0)]
    assert match_boxes([box(0, 0, 10, 10)], [box(8, 8, 18, 18)]) == []  # IoU 4/196


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    capture, frames = cv2.VideoCapture(str(CLIP)), []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def known_names(faces) -> list[str]:
    return sorted(f.match.name for f in faces if f.match.name is not None)


@pytest.mark.slow
def test_tracking_agrees_with_per_frame_recognition(recognizer, trained, clip_frames) -> None:
    recognizer.classifier = IdentityClassifier.load(trained["model"])
    try:
        every_face = [recognizer.recognize(f) for f in clip_frames]
        tracker = FaceTracker(recognizer, detect_every=3)
        tracked = [known_names(tracker.update(f)) for f in clip_frames]
    finally:
        recognizer.classifier = None
    per_frame = [known_names(faces) for faces in every_face]
    agree = sum(a == b for a, b in zip(per_frame, tracked, strict=True))
    assert agree >= 0.95 * len(clip_frames)
    assert tracker.cuts == 3  # the clip's three shot changes
    # about 30 faces embedded instead of one per face per frame (271)
    assert tracker.embedded < 0.2 * sum(len(faces) for faces in every_face)
    lin = sum("lin_manuel_miranda" in names for names in tracked)
    assert lin >= 130  # he is on screen in about 150 frames
    obama = sum("obama" in names for names in tracked)
    assert obama >= 10  # in near profile in the audience shot at the end
    assert {n for names in tracked for n in names} == {"lin_manuel_miranda", "obama"}
