"""recognize-video end to end on the Hamilton clip: frame count kept, the right people named."""

from __future__ import annotations

import cv2
from conftest import CLIP, run_json


def test_hamilton_clip(capsys, trained) -> None:
    output = trained["work"] / "clip.mp4"
    doc = run_json(capsys, "recognize-video", "--input", str(CLIP), "--output", str(output),
                   "--model", str(trained["model"]))  # fmt: skip
    source = cv2.VideoCapture(str(CLIP))
    frames_in = int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    written = cv2.VideoCapture(str(output))
    assert doc["frames"] == frames_in == int(written.get(cv2.CAP_PROP_FRAME_COUNT))
    assert doc["ended_by"] == "end of stream"
    names = doc["names"]
    # Lin-Manuel Miranda is on screen in about 140 of the 275 frames; by default faces are
    # tracked, and no one else is named (Obama's few borderline frames are outvoted).
    assert names.get("lin_manuel_miranda", 0) >= 120
    assert set(names) <= {"lin_manuel_miranda", "unknown"}
    assert doc["detect_every"] == 3 and doc["faces_embedded"] < 60


def test_hamilton_clip_frame_by_frame(capsys, trained) -> None:
    doc = run_json(capsys, "recognize-video", "--input", str(CLIP), "--no-output",
                   "--detect-every", "1", "--model", str(trained["model"]))  # fmt: skip
    names = doc["names"]
    assert names.get("lin_manuel_miranda", 0) >= 120
    assert names.get("obama", 0) >= 1  # in the audience at the end, in 3/4 profile
    # One known miss frame by frame: in frame 5 Lin, small and turned, is 1.05 from Alex
    # Lacamoire's photo and 1.03 from his own, and the SVM picks Alex. Tracking outvotes it.
    assert names.get("alex_lacamoire", 0) <= 1
    assert set(names) <= {"lin_manuel_miranda", "obama", "alex_lacamoire", "unknown"}
