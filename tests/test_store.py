"""The store, on both backends (a SQLite file; PostgreSQL with pgvector, from pgserver): upsert,
change detection data, removal, other faces, groups, renames, embedder and detector checks; and
for SQLite, refusing foreign files."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import IncompatibleModelError, StoreError
from pipeline.stores import made_with, open_existing, open_store
from pipeline.stores.records import STATUS_OK, STATUS_SKIPPED, ImageRecord, OtherFace
from pipeline.stores.sqlite import EmbeddingStore


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a new store goes: a file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "s.db")
    return request.getfixturevalue("pg_url")


def record(relpath: str, person: str, value: float | None) -> ImageRecord:
    emb = None if value is None else np.full(4, value, np.float32)
    status = STATUS_OK if emb is not None else STATUS_SKIPPED
    return ImageRecord(relpath, person, "hash-" + relpath, 10, 20, status, None, 1, embedding=emb)


def test_upsert_read_and_remove_missing(location: str) -> None:
    with open_store(location, "emb", 4) as store:
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
        marks = [[1.0, 2.0], [3.0, 2.0], [2.0, 3.0], [1.0, 4.0], [3.0, 4.0]]
        c = replace(
            record("c/1.jpg", "c", 0.5), faces=3, landmarks=marks, quality=(0.5, 96.0, "0f" * 1024)
        )
        store.upsert([c])
        facts = store.image_facts()  # what the audit reads: embedded images only
        assert sorted(facts) == ["a/1.jpg", "b/1.jpg", "c/1.jpg"]
        assert (facts["c/1.jpg"].sha256, facts["c/1.jpg"].faces) == ("hash-c/1.jpg", 3)
        assert facts["c/1.jpg"].landmarks == marks and facts["a/1.jpg"].landmarks is None
        assert (facts["c/1.jpg"].sharpness, facts["c/1.jpg"].brightness) == (0.5, 96.0)
        assert facts["c/1.jpg"].thumbnail == "0f" * 1024
        assert facts["a/1.jpg"].sharpness is None  # measured only when embedded with it
        store.upsert([replace(c, sha256="changed", quality=None)])  # a new photo, unmeasured
        assert store.image_facts()["c/1.jpg"].sharpness is None
        assert store.remove_missing(["a/1.jpg"]) == 3
        assert list(store.known()) == ["a/1.jpg"]


def test_reopening_with_another_embedder_is_refused(location: str) -> None:
    open_store(location, "emb", 4).close()
    with pytest.raises(IncompatibleModelError, match="emb"):
        open_store(location, "other", 4)
    with pytest.raises(IncompatibleModelError):
        open_store(location, "emb", 8)


def test_other_faces_groups_renames_and_deletes(location: str) -> None:
    vec = np.full(4, 0.5, np.float32)
    other = OtherFace([5.0, 6.0, 7.0, 8.0], 0.8, None, np.full(4, 0.1, np.float32))
    with open_store(location, "emb", 4, all_faces=True) as store:
        store.upsert(
            [
                ImageRecord(
                    "a/1.jpg",
                    "a",
                    "h",
                    1,
                    2,
                    STATUS_OK,
                    None,
                    2,
                    [1.0, 2.0, 3.0, 4.0],
                    0.9,
                    None,
                    vec,
                    (other,),
                ),
                record("b/1.jpg", "b", 0.25),
            ]
        )
        assert store.stored_faces() == 3 and store.face_counts() == (3, 1)
        faces = store.records()
        assert [(f.relpath, f.face) for f in faces] == [
            ("a/1.jpg", 0),
            ("a/1.jpg", 1),
            ("b/1.jpg", 0),
        ]
        assert faces[1].box == [5.0, 6.0, 7.0, 8.0] and faces[0].mtime_ns == 2
        np.testing.assert_allclose(faces[1].embedding, 0.1)
        store.save_groups({("a/1.jpg", 0): 1, ("b/1.jpg", 0): 2}, {1: "ada"})
        assert store.groups() == ({("a/1.jpg", 0): 1, ("b/1.jpg", 0): 2}, {1: "ada"})
        store.rename_person("a", "ada")
        assert [(f.relpath, f.person, f.face) for f in store.records()][:2] == [
            ("ada/1.jpg", "ada", 0),
            ("ada/1.jpg", "ada", 1),
        ]
        store.delete(["ada/1.jpg"])
        assert [f.relpath for f in store.records()] == ["b/1.jpg"] and store.stored_faces() == 1
    with pytest.raises(StoreError, match="all-faces"):
        open_store(location, "emb", 4, all_faces=False)
    with open_existing(location, "emb", 4) as reader:  # another process reading
        assert reader.embeddings()[0] == ["b"]


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


def test_a_store_keeps_the_models_that_made_its_crops(location: str, tmp_path: Path) -> None:
    """Crops of two detectors differ (FaceNet vectors move by about 0.2), so they never mix;
    the store says which embedder and detector made it, so commands can follow it."""
    assert made_with(location) is None
    open_store(location, "emb", 4, "yunet-x").close()
    with pytest.raises(IncompatibleModelError, match="found by yunet-x, not res10"):
        open_store(location, "emb", 4, "res10-ssd-300-uint8")
    with open_store(location, "emb", 4) as store:  # no choice made: the store's own
        assert store.detector_id == "yunet-x"
    assert made_with(location) == ("emb", "yunet-x")
    old = tmp_path / "old.db"  # made before the detector was recorded: the SSD's
    EmbeddingStore(old, "emb", 4, "res10-ssd-300-uint8").close()
    with sqlite3.connect(old) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'detector_id'")
    assert EmbeddingStore.made_with(old) == ("emb", "res10-ssd-300-uint8")
