"""prefetch: run a generator on a helper thread, a bounded number of items ahead of its consumer.

Reading files, hashing and decoding images release the GIL, so they overlap the DNN forward
passes of the main thread. The bound keeps memory flat whatever the dataset size.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetch(items: Iterable[T], depth: int = 16) -> Iterator[T]:
    """Yield `items` in order, produced up to `depth` ahead on a daemon thread.

    An exception raised while producing is re-raised here, at the item where it happened.
    Leaving the loop early (break, exception, Ctrl-C) stops the helper thread.
    """
    out: queue.Queue[object] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                out.put(value, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as err:  # handed to the consumer, which re-raises it
            put(_Failed(err))
            return
        put(_DONE)

    thread = threading.Thread(target=run, name="facerec-prefetch", daemon=True)
    thread.start()
    try:
        while (value := out.get()) is not _DONE:
            if isinstance(value, _Failed):
                raise value.error
            yield value  # type: ignore[misc]
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                out.get(timeout=0.05)
        thread.join()
