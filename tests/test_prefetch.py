"""The helper thread: prefetch keeps order and hands errors over; the frame reader reads every
frame of a file and drops old frames of a live source."""

from __future__ import annotations

import threading
import time

import cv2
import pytest
from conftest import CLIP

from pipeline.prefetch import prefetch
from pipeline.video.stream import FrameSource, frame_reader


def test_prefetch_keeps_order_and_runs_on_another_thread() -> None:
    threads = set()

    def produce():
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(prefetch(produce(), depth=3)) == list(range(50))
    assert threads == {"facerec-prefetch"}


def test_prefetch_reraises_where_the_producer_failed() -> None:
    def produce():
        yield 1
        yield 2
        raise OSError("disk gone")

    got = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetch(produce()):
            got.append(item)
    assert got == [1, 2]


def test_leaving_early_stops_the_producer() -> None:
    produced = []

    def produce():
        for i in range(10_000):
            produced.append(i)
            yield i

    for item in prefetch(produce(), depth=2):
        if item == 5:
            break
    assert len(produced) < 20  # bounded read-ahead, and nothing more after the loop ends
    assert not any(t.name == "facerec-prefetch" for t in threading.enumerate())


def test_frame_reader_delivers_every_frame_of_a_file_in_order() -> None:
    capture = cv2.VideoCapture(str(CLIP))
    expected = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    source = FrameSource(capture, file=True)
    with frame_reader(source, depth=2) as reader:
        stamps = [read_at for _, read_at in reader]
    capture.release()
    assert len(stamps) == expected == 275 and stamps == sorted(stamps)
    assert reader.dropped == 0 and source.damaged == 0 and source.reached_end


def test_a_live_reader_drops_old_frames_instead_of_falling_behind() -> None:
    capture = cv2.VideoCapture(str(CLIP))  # read as if it were a camera
    with frame_reader(FrameSource(capture, file=False), depth=2) as reader:
        seen = 0
        for _ in reader:
            seen += 1
            time.sleep(0.01)  # a slow consumer
    capture.release()
    assert reader.dropped > 0 and seen + reader.dropped == 275
