"""The inference pool: one FaceRecognizer per worker thread, loaded once at start.

OpenCV's DNN forward pass releases the GIL, so threads run nets in parallel without copying
images between processes; each worker owns its nets, so concurrent requests never wait on a
shared lock, only for a free worker.
"""

from __future__ import annotations

import asyncio
import os
import queue
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pipeline.core import FaceRecognizer

T = TypeVar("T")


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class RecognizerPool:
    """`size` recognizers made by `make`, each used by one job at a time."""

    def __init__(self, make: Callable[[], FaceRecognizer], size: int) -> None:
        self.size = size
        self._idle: queue.SimpleQueue[FaceRecognizer] = queue.SimpleQueue()
        self.first = make()
        self._idle.put(self.first)
        for _ in range(size - 1):
            self._idle.put(make())
        self._executor = ThreadPoolExecutor(size, thread_name_prefix="facerec-infer")

    async def run(self, job: Callable[[FaceRecognizer], T]) -> T:
        """Run `job` with a free recognizer on a worker thread, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._with_one, job)

    def _with_one(self, job: Callable[[FaceRecognizer], T]) -> T:
        recognizer = self._idle.get()
        try:
            return job(recognizer)
        finally:
            self._idle.put(recognizer)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
