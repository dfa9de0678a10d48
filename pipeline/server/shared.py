"""A gallery in PostgreSQL shared by several servers: each reads the shared HNSW index for
find, and watches the gallery's generation to reload when another server wrote."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from pipeline.errors import StoreError
from pipeline.registry import ModelSpec
from pipeline.search import Neighbour
from pipeline.stores import open_store
from pipeline.types import Embeddings

log = logging.getLogger(__name__)


class SharedIndex:
    """The shared gallery's nearest-face index, on a connection of its own opened on first
    use: every server's committed enrolments are found at once, before this one reloads."""

    def __init__(self, store_path: str | os.PathLike[str], spec: ModelSpec) -> None:
        self.store_path, self.spec = store_path, spec
        self._reader: Any = None
        self._lock = threading.Lock()

    def nearest(self, vector: Embeddings, k: int) -> list[Neighbour] | None:
        """The k nearest faces, or None when the database cannot be read (the caller then
        answers from its own snapshot)."""
        with self._lock:
            try:
                if self._reader is None:
                    self._reader = open_store(
                        self.store_path, self.spec.id, self.spec.output_dim, writer=False
                    )
                found = self._reader.nearest(vector, k)
                return [Neighbour(f.person, f.relpath, d, f.box) for f, d in found]
            except StoreError:
                log.warning(
                    "the shared gallery's index cannot be read; answering from memory",
                    exc_info=True,
                )
                self._close()
                return None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = None


def watch(
    store_path: str | os.PathLike[str],
    spec: ModelSpec,
    pause: Callable[[float], bool],
    seen: Callable[[], int],
    changed: Callable[[int], None],
    every: float = 0.5,
) -> None:
    """Poll the gallery's generation on a connection of its own until `pause` says stop; when
    it differs from the one this server has `seen`, call `changed` with it."""
    reader = open_store(store_path, spec.id, spec.output_dim, writer=False)
    try:
        while pause(every):
            try:
                now = reader.generation()
            except Exception:  # a dropped connection: keep serving, try again
                log.warning("the shared gallery cannot be read; retrying", exc_info=True)
                continue
            if now != seen():
                changed(now)
    finally:
        reader.close()
