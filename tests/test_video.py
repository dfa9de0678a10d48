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
    # Lin-Manuel Miranda is on screen in about 140 of the 275 frames.
    assert names.get("lin_manuel_miranda", 0) >= 100
    assert max(names, key=names.get) == "lin_manuel_miranda"
    assert names.get("obama", 0) >= 1  # in the audience at the end
    assert not {"biden", "kit_harington", "rose_leslie"} & set(names)
