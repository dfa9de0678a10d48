"""Prefetcher: run a generator on a helper thread, a bounded number of items ahead of its consumer.

Reading files, hashing, decoding images and reading video frames release the GIL, so they
overlap the DNN forward passes of the main thread. The bound keeps memory flat whatever the
dataset size: at most `depth` items, and, given a `weight` (bytes of decoded pixels), at most
`budget` bytes waiting (one item is always let through, however heavy). For a live source (a
camera) the oldest waiting item is dropped instead of blocking, so the consumer always gets the
newest one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

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
        self,
        items: Iterable[T],
        depth: int = 16,
        drop_oldest: bool = False,
        name: str = "prefetch",
        weight: Callable[[T], int] | None = None,
        budget: int = 0,
    ) -> None:
        self._items = items
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._drop_oldest = drop_oldest
        self._weight = weight
        self._budget = budget
        self._held = 0  # weight of the items waiting in the queue
        self._room = threading.Condition()
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
                    _, weight = self._queue.get_nowait()
                    self._release(weight)
                    self.dropped += 1
            try:
                self._queue.put(value, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _wait_for_room(self, weight: int) -> bool:
        """Block while `weight` more would pass the budget (unless nothing waits); False on stop."""
        with self._room:
            while self._held and self._held + weight > self._budget:
                if self._stop.is_set():
                    return False
                self._room.wait(timeout=0.05)
            self._held += weight
        return True

    def _release(self, weight: int) -> None:
        if weight:
            with self._room:
                self._held -= weight
                self._room.notify()

    def _run(self) -> None:
        try:
            for item in self._items:
                weight = self._weight(item) if self._weight is not None else 0
                if weight and not self._wait_for_room(weight):
                    return
                if not self._put((item, weight), droppable=True):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it
            self._put(_Failed(err), droppable=False)
            return
        self._put(_DONE, droppable=False)

    def __iter__(self) -> Iterator[T]:
        while (value := self._queue.get()) is not _DONE:
            if isinstance(value, _Failed):
                raise value.error
            item, weight = value
            self._release(weight)
            yield item


def prefetch(
    items: Iterable[T],
    depth: int = 16,
    weight: Callable[[T], int] | None = None,
    budget: int = 0,
) -> Iterator[T]:
    """Yield `items` in order, produced up to `depth` items (and `budget` weight) ahead on a
    helper thread."""
    with Prefetcher(items, depth, weight=weight, budget=budget) as ahead:
        yield from ahead
