"""One writer per SQLite store: an exclusive flock on `<store>.lock`."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pipeline.errors import StoreError

try:
    import fcntl
except ImportError:  # Windows: no writer lock
    fcntl = None  # type: ignore[assignment]


class WriterLock:
    """One writer per store: an exclusive flock on `<store>.lock`, released on close or exit.

    The operating system drops the lock when the process dies (even by kill -9), so a crash
    never leaves a store locked. On systems without fcntl (Windows) there is no lock.
    """

    def __init__(self, store: Path) -> None:
        self.path = store.with_name(store.name + ".lock")
        self.fd: int | None = None
        if fcntl is None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise StoreError(f"{store}: cannot create {self.path.name}: {err.strerror}") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"{store}: another facerec run (pid {holder}) is writing this store; "
                "wait for it to finish, or pass another --store"
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
        except OSError as err:  # a full disk: the lock holds, only the pid note is lost
            logging.getLogger(__name__).debug("no pid in %s: %s", self.path, err)
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None and fcntl is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None
