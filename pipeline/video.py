"""recognize_video: read frames from a file, camera or URL, name faces, write/show annotated frames."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import cv2

from .atomic import atomic_path
from .draw import annotate
from .errors import VideoError
from .recognizer import FaceRecognizer
from .types import Image, VideoReport

log = logging.getLogger(__name__)

WINDOW = "facerec"
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


def open_source(source: str) -> tuple[cv2.VideoCapture, str]:
    """Open a video file, a camera index ("0") or a stream URL; returns (capture, kind).

    Raises:
        VideoError: nothing can be opened there.
    """
    if source.isdigit():
        capture, kind = cv2.VideoCapture(int(source)), "camera"
    elif "://" in source:
        capture, kind = cv2.VideoCapture(source), "stream"
    elif Path(source).is_file():
        capture, kind = cv2.VideoCapture(source), "file"
    else:
        raise VideoError(f"{source}: no such video file (or camera index / URL)")
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{source}: cannot open this {kind} as video")
    return capture, kind


def display_available() -> bool:
    """True when a window can be shown: a display exists and OpenCV was built with a GUI."""
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return False
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error:
        return False
    return True


def _open_writer(path: Path, fps: float, frame: Image) -> cv2.VideoWriter:
    fourcc = cv2.VideoWriter_fourcc(*_FOURCC.get(path.suffix.lower(), "mp4v"))
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), fourcc, fps, (width, height))
    if not writer.isOpened():
        raise VideoError(f"{path}: cannot write video here (use .mp4 or .avi)")
    return writer


def recognize_video(
    source: str,
    recognizer: FaceRecognizer,
    output: str | os.PathLike[str] | None = None,
    display: bool = False,
    max_frames: int | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> VideoReport:
    """Process frames until the stream ends, the camera is lost, `q` is pressed or Ctrl-C.

    The output video, if asked for, is written atomically: it appears complete or not at all.
    """
    capture, kind = open_source(source)
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps_in = fps_in if 1.0 <= fps_in <= 240.0 else 30.0
    show = display and display_available()
    if display and not show:
        log.warning("--display ignored: no display, or this OpenCV build has no GUI")
    frames = with_faces = 0
    names: Counter[str] = Counter()
    ended_by = "end of stream" if kind == "file" else "camera or stream lost"
    start = time.perf_counter()
    with ExitStack() as stack:
        stack.callback(capture.release)
        tmp = stack.enter_context(atomic_path(output)) if output is not None else None
        writer: cv2.VideoWriter | None = None
        try:
            while max_frames is None or frames < max_frames:
                ok, frame = capture.read()
                if not ok or frame is None:
                    break
                faces = recognizer.recognize(frame)
                frames += 1
                with_faces += bool(faces)
                names.update({f.match.label for f in faces})
                drawn = annotate(frame, faces) if (tmp is not None or show) else frame
                if tmp is not None:
                    if writer is None:
                        writer = _open_writer(tmp, fps_in, frame)
                        stack.callback(writer.release)
                    writer.write(drawn)
                if show:
                    cv2.imshow(WINDOW, drawn)
                    if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
                        ended_by = "stopped by user"
                        break
                if on_frame is not None:
                    on_frame(frames)
            else:
                ended_by = "max frames reached"
        except KeyboardInterrupt:
            ended_by = "interrupted"
        if writer is not None:
            writer.release()
        elif tmp is not None:
            raise VideoError(f"{source}: no frame could be read, so no video was written")
    if show:
        cv2.destroyAllWindows()
    elapsed = max(time.perf_counter() - start, 1e-9)
    return VideoReport(
        frames=frames,
        frames_with_faces=with_faces,
        fps=frames / elapsed,
        names=dict(names),
        output=str(output) if output is not None else None,
        ended_by=ended_by,
    )
