"""How annotated frames become a video file: a writer with OpenCV's VideoWriter interface.

WebM with VP8 is what browsers play and this OpenCV build can write (no H.264 encoder; VP9 ran
at 10 frames/s). OpenCV encodes VP8 on one core at about 44 frames/s here (640x360) and offers
no way to ask libvpx for a faster setting, which held recognize-video to that pace. When an
FFmpeg binary is at hand (the `.[audio]` extra, or `ffmpeg` on PATH), WebM is encoded by it
instead, with libvpx's realtime setting: the same format at 176 frames/s (bench/speed.py). Other
containers (.mp4: MPEG-4 Part 2, .avi: MJPG) are quick to encode and stay with OpenCV.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2

from pipeline.errors import VideoError
from pipeline.types import Image
from pipeline.video.audio import ffmpeg_exe

log = logging.getLogger(__name__)

FOURCC = {
    ".webm": "VP80",
    ".mp4": "mp4v",
    ".m4v": "mp4v",
    ".mov": "mp4v",
    ".avi": "MJPG",
    ".mkv": "MJPG",
}
BITS_PER_PIXEL = 0.3  # FFmpeg's VP8 target: about what OpenCV's writer gives (1.7 Mbit/s, 360p)


class FrameWriter(Protocol):
    def write(self, frame: Image, /) -> object: ...

    def release(self) -> None: ...


class FfmpegWriter:
    """Frames piped to an FFmpeg process that encodes VP8 into WebM at libvpx's realtime
    setting. Same interface as cv2.VideoWriter; a failed encoder is a VideoError."""

    def __init__(self, exe: str, path: Path, fps: float, width: int, height: int) -> None:
        bitrate = max(300_000, int(BITS_PER_PIXEL * width * height * fps))
        command = [
            exe,
            "-nostdin",
            "-y",
            "-v",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{width}x{height}",
            "-r",
            f"{fps:.6f}",
            "-i",
            "-",
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            str(bitrate),
            "-f",
            "webm",
            str(path),
        ]
        self._shape = (height, width, 3)
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def write(self, frame: Image) -> None:
        if frame.shape != self._shape:
            raise VideoError(f"a frame of {frame.shape} in a video of {self._shape}")
        try:
            assert self._process.stdin is not None
            self._process.stdin.write(frame.tobytes())
        except (BrokenPipeError, OSError) as err:
            raise VideoError(f"FFmpeg stopped encoding: {self._reason()}") from err

    def release(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        if self._process.wait() != 0:
            raise VideoError(f"FFmpeg could not encode the video: {self._reason()}")

    def _reason(self) -> str:
        self._process.wait()
        assert self._process.stderr is not None
        text = self._process.stderr.read().decode(errors="replace").strip()
        return (text.splitlines() or ["no message"])[-1]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment (OpenCV's FFmpeg wrapper writes to it directly,
    past OPENCV_LOG_LEVEL). Does nothing under -v (OPENCV_LOG_LEVEL not SILENT)."""
    if os.environ.get("OPENCV_LOG_LEVEL") != "SILENT":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def open_writer(path: Path, fps: float, frame: Image, use_ffmpeg: bool = True) -> FrameWriter:
    """A writer for frames shaped like `frame` at `fps`, by the file's suffix (unknown: .mp4's).

    Raises:
        VideoError: nothing can write that container there.
    """
    height, width = frame.shape[:2]
    suffix = path.suffix.lower()
    exe = ffmpeg_exe() if use_ffmpeg and suffix == ".webm" else None
    if exe is not None:
        try:
            return FfmpegWriter(exe, path, fps, width, height)
        except OSError as err:  # not executable after all: OpenCV's writer will do
            log.debug("FFmpeg could not start (%s); encoding with OpenCV", err)
    fourcc = cv2.VideoWriter.fourcc(*FOURCC.get(suffix, "mp4v"))
    with _quiet_stderr():  # FFmpeg prints a harmless note about WebM's codec tag on every run
        writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"{path}: cannot write video here (use .webm, .mp4 or .avi)")
    return writer
