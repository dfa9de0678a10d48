"""EmbeddingStore: upsert, change detection data, removal, and refusing foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import IncompatibleModelError, StoreError
from pipeline.store import STATUS_OK, STATUS_SKIPPED, EmbeddingStore, ImageRecord


def record(relpath: str, person: str, value: float | None) -> ImageRecord:
    emb = None if value is None else np.full(4, value, np.float32)
    status = STATUS_OK if emb is not None else STATUS_SKIPPED
    return ImageRecord(relpath, person, "hash-" + relpath, 10, 20, status, None, 1, embedding=emb)


def test_upsert_read_and_remove_missing(tmp_path: Path) -> None:
    with EmbeddingStore(tmp_path / "s.db", "emb", 4) as store:
        store.upsert(
            [
                record("a/1.jpg", "a", 0.5),
                record("b/1.jpg", "b", 0.25),
                record("b/2.jpg", "b", None),
            ]
        )
        names, matrix, paths = store.embeddings()
        assert names == ["a", "b"] and paths == ["a/1.jpg", "b/1.jpg"]
        np.testing.assert_allclose(matrix[1], 0.25)
        assert store.known()["b/2.jpg"][3] == STATUS_SKIPPED
        assert store.remove_missing(["a/1.jpg"]) == 2
        assert list(store.known()) == ["a/1.jpg"]


def test_reopening_with_another_embedder_is_refused(tmp_path: Path) -> None:
    EmbeddingStore(tmp_path / "s.db", "emb", 4).close()
    with pytest.raises(IncompatibleModelError, match="emb"):
        EmbeddingStore(tmp_path / "s.db", "other", 4)
    with pytest.raises(IncompatibleModelError):
        EmbeddingStore(tmp_path / "s.db", "emb", 8)


def test_foreign_and_corrupt_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE people (name TEXT)")
    before = foreign.read_bytes()
    with pytest.raises(StoreError, match="not a facerec"):
        EmbeddingStore(foreign, "emb", 4)
    # refused before anything changed: not switched to WAL, no lock file beside it
    assert foreign.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.db"]
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a usable"):
        EmbeddingStore(corrupt, "emb", 4)
    with pytest.raises(StoreError, match="extract-embeddings"):
        EmbeddingStore.open_existing(tmp_path / "absent.db", "emb", 4)


def test_a_store_keeps_the_detector_that_made_its_crops(tmp_path: Path) -> None:
    """Crops of two detectors differ (FaceNet vectors move by about 0.2), so they never mix."""
    path = tmp_path / "s.db"
    EmbeddingStore(path, "emb", 4, "yunet-x").close()
    with pytest.raises(IncompatibleModelError, match="found by yunet-x, not res10"):
        EmbeddingStore(path, "emb", 4, "res10-ssd-300-uint8")
    with EmbeddingStore(path, "emb", 4) as store:  # no choice made: the store's own
        assert store.detector_id == "yunet-x"
    assert EmbeddingStore.detector_of(path) == "yunet-x"
    old = tmp_path / "old.db"  # made before the detector was recorded: the SSD's
    EmbeddingStore(old, "emb", 4, "res10-ssd-300-uint8").close()
    with sqlite3.connect(old) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'detector_id'")
    assert EmbeddingStore.detector_of(old) == "res10-ssd-300-uint8"
