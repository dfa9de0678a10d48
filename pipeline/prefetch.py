"""Prefetcher: run a generator on a helper thread, a bounded number of items ahead of its consumer.

Reading files, hashing, decoding images and reading video frames release the GIL, so they
overlap the DNN forward passes of the main thread. The bound keeps memory flat whatever the
dataset size. For a live source (a camera) the oldest waiting item is dropped instead of
blocking, so the consumer always gets the newest one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher(Generic[T]):
    """Use as a context manager, then iterate. `dropped` counts items a live source skipped.

    An exception raised while producing is re-raised to the consumer at the item where it
    happened. Leaving the block early (break, exception, Ctrl-C) stops the helper thread.
    """

    def __init__(
        self, items: Iterable[T], depth: int = 16, drop_oldest: bool = False, name: str = "prefetch"
    ) -> None:
        self._items = items
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._drop_oldest = drop_oldest
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name=f"facerec-{name}", daemon=True)

    def __enter__(self) -> Prefetcher[T]:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _put(self, value: object, droppable: bool) -> bool:
        while not self._stop.is_set():
            if droppable and self._drop_oldest and self._queue.full():
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
                    self.dropped += 1
            try:
                self._queue.put(value, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put(item, droppable=True):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it
            self._put(_Failed(err), droppable=False)
            return
        self._put(_DONE, droppable=False)

    def __iter__(self) -> Iterator[T]:
        while (value := self._queue.get()) is not _DONE:
            if isinstance(value, _Failed):
                raise value.error
            yield value  # type: ignore[misc]


def prefetch(items: Iterable[T], depth: int = 16) -> Iterator[T]:
    """Yield `items` in order, produced up to `depth` ahead on a helper thread."""
    with Prefetcher(items, depth) as ahead:
        yield from ahead
