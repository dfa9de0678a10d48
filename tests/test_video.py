"""recognize-video end to end on the Hamilton clip: frame count kept, the right people named."""

from __future__ import annotations

import cv2
import pytest
from conftest import CLIP, run_json

pytestmark = pytest.mark.slow  # decodes the Hamilton clip


def test_hamilton_clip(capsys, trained) -> None:
    """The annotated video is WebM with VP8, which Chromium plays (checked by probing the file:
    the WebM/Matroska EBML signature and OpenCV's reading of its codec)."""
    output = trained["work"] / "clip.webm"
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--output",
        str(output),
        "--model",
        str(trained["model"]),
    )
    source = cv2.VideoCapture(str(CLIP))
    frames_in = int(source.get(cv2.CAP_PROP_FRAME_COUNT))
    written = cv2.VideoCapture(str(output))
    assert doc["frames"] == frames_in == int(written.get(cv2.CAP_PROP_FRAME_COUNT))
    assert doc["ended_by"] == "end of stream"
    names = doc["names"]
    # Lin-Manuel Miranda is on screen in about 150 of the 275 frames, Obama in 64: in near
    # profile, small and dark in the audience shot at the end. By default faces are tracked, and
    # no one else is named. YuNet finds 632 faces frame by frame; tracking embeds about 64.
    assert names.get("lin_manuel_miranda", 0) >= 130 and names.get("obama", 0) >= 10
    assert set(names) <= {"lin_manuel_miranda", "obama", "unknown"}
    assert doc["detect_every"] == 3 and doc["faces_embedded"] < 100
    assert output.read_bytes()[:4] == b"\x1a\x45\xdf\xa3"  # EBML: a WebM/Matroska file
    assert int(written.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") == b"VP80"
    # The timeline covers every frame Lin is named in, in few ranges, in seconds too.
    ranges = doc["timeline"]["lin_manuel_miranda"]
    covered = sum(r["last_frame"] - r["first_frame"] + 1 for r in ranges)
    assert names["lin_manuel_miranda"] <= covered <= doc["frames"] and len(ranges) <= 4
    fps = doc["source_fps"]
    assert all(r["start_s"] == pytest.approx(r["first_frame"] / fps, abs=1e-3) for r in ranges)


def test_hamilton_clip_frame_by_frame(capsys, trained) -> None:
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--no-output",
        "--detect-every",
        "1",
        "--model",
        str(trained["model"]),
    )
    names = doc["names"]
    # the same, every face of every frame on its own (SFace names Obama in near profile at
    # 0.81-0.98; the first stranger that would be named, as alex_lacamoire, is at 1.13)
    assert names.get("lin_manuel_miranda", 0) >= 130 and names.get("obama", 0) >= 10
    assert set(names) <= {"lin_manuel_miranda", "obama", "unknown"}


def test_the_sound_is_kept_when_ffmpeg_is_at_hand(capsys, trained, tmp_path) -> None:
    """With the audio extra (an FFmpeg binary) the output keeps the input's sound, cut to the
    frames written; a silent input gives a silent output, without a warning."""
    import subprocess

    from pipeline.video.audio import ffmpeg_exe

    exe = ffmpeg_exe()
    if exe is None:
        pytest.skip("no FFmpeg: install the audio extra")
    out = tmp_path / "clip.webm"
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--output",
        str(out),
        "--max-frames",
        "60",
        "--model",
        str(trained["model"]),
    )
    assert doc["audio"] is True and doc["frames"] == 60
    probe = subprocess.run([exe, "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    streams = [line for line in probe.stderr.splitlines() if "Stream #" in line]
    assert any("Video: vp8" in s for s in streams) and any("Audio: opus" in s for s in streams)
    assert "Duration: 00:00:02.0" in probe.stderr  # 60 frames at 29.97 frames/s
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 60

    silent = tmp_path / "silent.avi"  # OpenCV writes no sound
    writer = cv2.VideoWriter(str(silent), cv2.VideoWriter_fourcc(*"MJPG"), 25, (640, 360))
    source = cv2.VideoCapture(str(CLIP))
    for _ in range(10):
        writer.write(source.read()[1])
    writer.release()
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(silent),
        "--output",
        str(tmp_path / "silent.webm"),
        "--model",
        str(trained["model"]),
    )
    assert doc["audio"] is False and "silent" not in capsys.readouterr().err


def test_without_ffmpeg_opencv_writes_the_same_webm(capsys, trained, tmp_path, monkeypatch) -> None:
    """The default install has no FFmpeg binary: OpenCV's own VP8 writer, on the encoder
    thread, writes the same format and every frame."""
    import pipeline.video.encode

    monkeypatch.setattr(pipeline.video.encode, "ffmpeg_exe", lambda: None)
    output = tmp_path / "clip.webm"
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--output",
        str(output),
        "--model",
        str(trained["model"]),
        "--max-frames",
        "60",
    )
    written = cv2.VideoCapture(str(output))
    assert doc["frames"] == 60 == int(written.get(cv2.CAP_PROP_FRAME_COUNT))
    assert int(written.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little") == b"VP80"
    assert doc["names"].get("lin_manuel_miranda", 0) >= 15  # on screen in the first 15-20 frames


def test_a_damaged_frame_does_not_end_the_video(capsys, trained, tmp_path) -> None:
    """4,000 random bytes in the clip's frame data: OpenCV fails on a frame at 76 and reads on
    after it. Every readable frame is processed, the damaged ones are counted, and the run
    says "end of stream" only when it reached the end (it stopped at 76 and said so before)."""
    import numpy as np

    data = bytearray(CLIP.read_bytes())
    data[173112 : 173112 + 4000] = (
        np.random.default_rng(0).integers(0, 256, 4000, np.uint8).tobytes()
    )
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(damaged),
        "--no-output",
        "--model",
        str(trained["model"]),
    )
    assert doc["frames"] >= 250 and doc["damaged_frames"] >= 1
    reached = doc["frames"] + doc["damaged_frames"] >= 274
    assert (doc["ended_by"] == "end of stream") == reached, doc["ended_by"]
    assert doc["names"].get("lin_manuel_miranda", 0) >= 120
