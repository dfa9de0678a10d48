"""VideoSink: annotated frames drawn and handed to the encoder on their own thread.

Encoding in line with recognition held recognize-video to the encoder's pace (OpenCV's VP8: 44
frames/s on one core here). Drawing and encoding release the GIL, so a helper thread overlaps
them with detection and embedding on the main thread (encode.py picks the encoder). The queue between the two is bounded (frames
and bytes of pixels), so a slow disk slows the run instead of filling memory, and frames are
written in the order they came.
"""

from __future__ import annotations

import queue
import threading

import cv2

from pipeline.draw import annotate
from pipeline.errors import VideoError
from pipeline.types import Image, RecognizedFace
from pipeline.video.encode import FrameWriter

_DONE = None


class VideoSink:
    """Use as a context manager; put(frame, faces) for every frame, in order.

    An encoder error is raised to the caller at the next put() or at the end. Leaving the
    block normally (or by Ctrl-C) writes every frame already handed over, then closes the file.
    """

    def __init__(self, writer: FrameWriter, depth: int = 8) -> None:
        self._writer = writer
        self._queue: queue.Queue[tuple[Image, list[RecognizedFace]] | None] = queue.Queue(depth)
        self._error: BaseException | None = None
        self.written = 0
        self._released = False
        self._thread = threading.Thread(target=self._run, name="facerec-encode", daemon=True)

    def __enter__(self) -> VideoSink:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, frame: Image, faces: list[RecognizedFace]) -> None:
        self._raise()
        self._queue.put((frame, faces))

    def close(self) -> None:
        """Wait until every frame handed over is encoded, then release the file."""
        if self._thread.is_alive():
            self._queue.put(_DONE)
            self._thread.join()
        if not self._released:
            self._released = True
            try:
                self._writer.release()
            except VideoError as err:
                self._error = self._error or err
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise VideoError(f"writing the video failed: {error}") from error

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None:
                continue  # keep draining so put() never blocks on a dead writer
            frame, faces = item
            try:
                self._writer.write(annotate(frame, faces))
                self.written += 1
            except (cv2.error, MemoryError, VideoError) as err:
                self._error = err
