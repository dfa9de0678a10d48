"""recognize_video: read frames from a file, camera or URL, name faces, write/show annotated frames."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from pipeline.atomic import atomic_path
from pipeline.core import FaceRecognizer
from pipeline.draw import annotate
from pipeline.errors import Terminated, VideoError
from pipeline.imageio import DECODED_BUDGET, MAX_PIXELS
from pipeline.library.strangers import StrangerKeeper
from pipeline.prefetch import Prefetcher
from pipeline.types import Image, RecognizedFace, VideoReport
from pipeline.video.audio import add_audio
from pipeline.video.encode import open_writer
from pipeline.video.sink import VideoSink
from pipeline.video.timeline import timeline
from pipeline.video.track import DETECT_EVERY, FaceTracker

log = logging.getLogger(__name__)

WINDOW = "facerec"
MAX_CAMERA_INDEX = 9999


def open_source(source: str) -> tuple[cv2.VideoCapture, str]:
    """Open a video file, a camera index ("0") or a stream URL; returns (capture, kind).

    Raises:
        VideoError: nothing can be opened there.
    """
    target: int | str = source
    if source.isdigit():
        target, kind = int(source), "camera"
        if target > MAX_CAMERA_INDEX:
            raise VideoError(f"{source}: camera index out of range (0-{MAX_CAMERA_INDEX})")
    elif "://" in source:
        kind = "stream"
    elif Path(source).is_file():
        kind = "file"
    else:
        raise VideoError(f"{source}: no such video file (or camera index / URL)")
    try:
        capture = cv2.VideoCapture(target)
    except (cv2.error, OverflowError) as err:
        raise VideoError(f"{source}: cannot open this {kind} as video") from err
    if not capture.isOpened():
        capture.release()
        raise VideoError(f"{source}: cannot open this {kind} as video")
    width, height = (
        int(capture.get(p) or 0) for p in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT)
    )
    if width * height > MAX_PIXELS:
        capture.release()
        raise VideoError(
            f"{source}: frames of {width}x{height} are above the {MAX_PIXELS / 1e6:.0f} MP limit"
        )
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


def _with_sound(tmp: Path, source: str, frames: int, output: object) -> bool:
    """Put the source's sound into the written video (audio.py), in place of `tmp`, when
    FFmpeg is at hand; the result is read back like the silent one. False: kept silent."""
    muxed = tmp.with_name(tmp.stem + ".sound" + tmp.suffix)
    try:
        if not add_audio(tmp, source, muxed):
            return False
        check_video(muxed, frames, output)
        os.replace(muxed, tmp)
        return True
    except VideoError as err:
        log.warning("the video stays silent: %s", err)
        return False
    finally:
        muxed.unlink(missing_ok=True)


def check_video(path: Path | None, frames: int, output: object) -> None:
    """Read back a video just written: cv2.VideoWriter reports no write error, so on a full
    disk it would leave a file without a readable frame, and we would name it as our output.

    Raises:
        VideoError: the file holds fewer frames than were written, or none can be read.
    """
    if path is None:
        return
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
        readable = capture.isOpened() and capture.read()[0]
    finally:
        capture.release()
    if not readable or count < frames:
        raise VideoError(
            f"{output}: the video could not be written completely ({count} of {frames} frames "
            "readable; is the disk full?); nothing was kept"
        )


# A file's frames that fail to decode are passed over, up to this many in a row; OpenCV's read
# fails on a damaged frame and then reads the next ones (a clip with random bytes in its data:
# 252 of 275 frames readable, where the first failure used to end the run as "end of stream").
MAX_DAMAGED_IN_A_ROW = 250


@dataclass
class FrameSource:
    """What reading found beyond the frames: damaged ones passed over, and whether the file
    was read to its end (a live source has no end to reach)."""

    capture: cv2.VideoCapture
    file: bool
    damaged: int = 0
    reached_end: bool = False

    def frames(self) -> Iterator[tuple[Image, float]]:
        total = int(self.capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if self.file else 0
        failed, stuck_at = 0, -1
        while True:
            ok, frame = self.capture.read()
            if ok and frame is not None:
                failed = 0
                yield frame, time.perf_counter()
                continue
            position = int(self.capture.get(cv2.CAP_PROP_POS_FRAMES) or 0)
            # the end: past the frame count (OpenCV's may be one too many), or a read that
            # moves no further; damage: a failed read that moved on, with frames still ahead
            if not self.file or position >= total - 1 or position == stuck_at:
                self.reached_end = self.file and position >= total - 1
                return
            if failed >= MAX_DAMAGED_IN_A_ROW:
                return
            stuck_at = position
            failed += 1
            self.damaged += 1


def frame_reader(source: FrameSource, depth: int = 4) -> Prefetcher[tuple[Image, float]]:
    """Frames read on their own thread, so decoding overlaps recognition.

    A file is read completely (the reader waits, no frame is skipped). A camera or stream is
    live: when recognition falls behind, the oldest waiting frame is dropped, so the frame being
    processed is never late. Each frame carries the time it was read, for latency.
    """
    return Prefetcher(
        source.frames(),
        depth,
        drop_oldest=not source.file,
        name="capture",
        weight=lambda item: item[0].nbytes,
        budget=DECODED_BUDGET,
    )


def recognize_video(
    source: str,
    recognizer: FaceRecognizer,
    output: str | os.PathLike[str] | None = None,
    display: bool = False,
    max_frames: int | None = None,
    on_frame: Callable[[int, list[RecognizedFace]], None] | None = None,
    detect_every: int = DETECT_EVERY,
    strangers: StrangerKeeper | None = None,
) -> VideoReport:
    """Process frames until the stream ends, the camera is lost, `q` is pressed or Ctrl-C.

    Faces are detected every `detect_every` frames and followed in between (track.py);
    `detect_every=1` detects and embeds every face of every frame. `on_frame(index, faces)`
    sees each frame's answers (benchmarks, progress). The output video, if asked
    for, is written atomically: it appears complete or not at all. With `strangers`, unknown
    faces are kept, dated by the clock (a camera) or the file's time plus the frame's offset.
    """
    capture, kind = open_source(source)
    fps_in = capture.get(cv2.CAP_PROP_FPS) or 0.0
    fps_in = fps_in if 1.0 <= fps_in <= 240.0 else 30.0
    show = display and display_available()
    if display and not show:
        log.warning("--display ignored: no display, or this OpenCV build has no GUI")
    tracker = FaceTracker(recognizer, detect_every)
    state = _Run(ended_by="end of stream" if kind == "file" else "camera or stream lost")
    state.source_fps = fps_in
    start = time.perf_counter()
    with ExitStack() as stack:
        stack.callback(capture.release)
        tmp = stack.enter_context(atomic_path(output)) if output is not None else None
        frames = FrameSource(capture, file=kind == "file")
        reader = stack.enter_context(frame_reader(frames))
        try:
            for frame, read_at in reader:
                faces = tracker.update(frame)
                state.count(faces, time.perf_counter() - read_at)
                if strangers is not None:
                    offset = (state.frames - 1) / fps_in
                    seen = os.path.getmtime(source) + offset if kind == "file" else time.time()
                    strangers.keep(frame, faces, seen, source)
                if not _emit_frame(frame, faces, tmp, show, fps_in, stack, state):
                    state.ended_by = "stopped by user"
                    break
                if on_frame is not None:
                    on_frame(state.frames - 1, faces)
                if max_frames is not None and state.frames >= max_frames:
                    state.ended_by = "max frames reached"
                    break
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM: finish the video with what was seen
            if state.frames == 0:
                raise  # nothing seen yet: no video, the command exits as interrupted
            state.ended_by = "terminated" if isinstance(stop, Terminated) else "interrupted"
        _finish(state, frames, tmp, output, source, kind == "file")
    if show:
        cv2.destroyAllWindows()
    return state.report(time.perf_counter() - start, output, tracker, reader.dropped)


def _finish(
    state: _Run,
    frames: FrameSource,
    tmp: Path | None,
    output: str | os.PathLike[str] | None,
    source: str,
    is_file: bool,
) -> None:
    """After the last frame: why the stream ended, and the output video closed and checked
    (with the input's sound when the audio extra can add it)."""
    state.damaged = frames.damaged
    if state.ended_by == "end of stream" and not frames.reached_end:
        state.ended_by = f"unreadable after frame {state.frames + frames.damaged}"
    if state.sink is not None:
        state.sink.close()  # every frame handed over is encoded first
        check_video(tmp, state.frames, output)
        if tmp is not None and is_file:
            state.audio = _with_sound(tmp, source, state.frames, output)
    elif tmp is not None:
        raise VideoError(f"{source}: no frame could be read, so no video was written")


@dataclass
class _Run:
    """What recognize_video accumulates while it runs (internal)."""

    ended_by: str
    frames: int = 0
    with_faces: int = 0
    names: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    sink: VideoSink | None = None
    named_frames: dict[str, list[int]] = field(default_factory=dict)
    source_fps: float = 30.0
    audio: bool = False
    damaged: int = 0

    def count(self, faces: list[RecognizedFace], latency: float) -> None:
        for name in {f.match.name for f in faces} - {None}:
            self.named_frames.setdefault(str(name), []).append(self.frames)
        self.frames += 1
        self.with_faces += bool(faces)
        self.names.update({f.match.label for f in faces})
        self.latencies.append(latency)

    def report(
        self, elapsed: float, output: object, tracker: FaceTracker, dropped: int
    ) -> VideoReport:
        ms = np.array(self.latencies or [0.0]) * 1000
        return VideoReport(
            frames=self.frames,
            frames_with_faces=self.with_faces,
            fps=self.frames / max(elapsed, 1e-9),
            names=dict(self.names),
            output=str(output) if output is not None else None,
            ended_by=self.ended_by,
            detect_every=tracker.detect_every,
            faces_embedded=tracker.embedded,
            latency_ms=float(np.mean(ms)),
            latency_ms_p95=float(np.percentile(ms, 95)),
            dropped=dropped,
            timeline=timeline(self.named_frames, self.source_fps),
            source_fps=self.source_fps,
            audio=self.audio,
            damaged=self.damaged,
        )


def _emit_frame(
    frame: Image,
    faces: list[RecognizedFace],
    tmp: Path | None,
    show: bool,
    fps: float,
    stack: ExitStack,
    state: _Run,
) -> bool:
    """Hand the frame to the encoder thread and/or show it annotated; False when the user
    pressed q (or Esc)."""
    if tmp is not None:
        if state.sink is None:
            state.sink = stack.enter_context(VideoSink(open_writer(tmp, fps, frame)))
        state.sink.put(frame, faces)
    if show:
        cv2.imshow(WINDOW, annotate(frame, faces))
        if cv2.waitKey(1) & 0xFF in (ord("q"), 27):
            return False
    return True
