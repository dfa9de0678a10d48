"""What a SQLite store file is: its tables, how a row keeps an embedding and a box, and the
checks made before one is opened (a foreign or damaged file is refused before anything in it
changes)."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import stat
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.errors import StoreError
from pipeline.stores.records import APPLICATION, LEGACY_DETECTOR, ImageRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    relpath     TEXT PRIMARY KEY,
    person      TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    faces       INTEGER NOT NULL DEFAULT 0,
    box         TEXT,
    score       REAL,
    landmarks   TEXT,
    embedding   BLOB,
    embedder_id TEXT NOT NULL
);
"""
# Faces beyond the main one, kept by --all-faces stores (photo libraries). Added to older
# stores when they are opened for writing; a store without it has none.
EXTRA_FACES = """
CREATE TABLE IF NOT EXISTS extra_faces (
    relpath   TEXT NOT NULL,
    face      INTEGER NOT NULL,
    box       TEXT,
    score     REAL,
    landmarks TEXT,
    embedding BLOB NOT NULL,
    PRIMARY KEY (relpath, face)
);
CREATE TABLE IF NOT EXISTS face_quality (
    relpath    TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    sharpness  REAL NOT NULL,
    brightness REAL NOT NULL,
    thumbnail  TEXT NOT NULL
);
"""
# face_quality: the main face's sharpness and brightness and the picture's grey thumbnail
# (facequality.py), a table of its own
# so stores made before it keep their layout; a row counts only while its sha256 matches.
# Groups of a photo library (facerec cluster): which group each face is in, kept across runs
# so that group ids stay stable; and the names given to groups. Made when first written.
GROUPS = """
CREATE TABLE IF NOT EXISTS face_groups (
    relpath  TEXT NOT NULL,
    face     INTEGER NOT NULL,
    group_id INTEGER NOT NULL,
    PRIMARY KEY (relpath, face)
);
CREATE TABLE IF NOT EXISTS group_names (group_id INTEGER PRIMARY KEY, name TEXT NOT NULL);
"""


def _tables_and_meta(path: Path) -> tuple[set[str], dict[str, str]]:
    """A database's table names and meta rows, read in read-only mode (nothing is changed:
    no WAL switch, no lock file).

    Raises:
        sqlite3.DatabaseError: not an SQLite file.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        meta = (
            dict(conn.execute("SELECT key, value FROM meta").fetchall()) if "meta" in tables else {}
        )
    finally:
        conn.close()
    return tables, meta


def peek(path: str | os.PathLike[str]) -> tuple[set[str], dict[str, str]] | None:
    """(table names, meta rows) of an existing facerec store, read without changing it;
    None when there is no readable facerec store there."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return None
    try:
        tables, meta = _tables_and_meta(p)
    except sqlite3.DatabaseError:
        return None
    return (tables, meta) if meta.get("application") == APPLICATION else None


def check_before_opening(path: Path) -> None:
    """Refuse a path that is not a regular file, or a database that is not ours, before
    anything is changed: opening for writing would switch a foreign SQLite file to WAL and
    put a `.lock` file beside it.

    Raises:
        StoreError: a device, FIFO or folder; not an SQLite file; not a facerec store.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: not a regular file; pass another --store")
    if st.st_size == 0:  # not a store we made (we never leave one empty): not ours to take
        raise StoreError(
            f"{path}: an empty file, not a facerec store; delete it to start a new "
            "store there, or pass another --store"
        )
    try:
        tables, meta = _tables_and_meta(path)
    except sqlite3.DatabaseError as err:
        raise StoreError(
            f"{path}: not a usable embeddings database ({err}); "
            "move it away or pass another --store"
        ) from err
    if not {"meta", "images"} <= tables or meta.get("application") != APPLICATION:
        raise StoreError(
            f"{path}: an SQLite file, but not a facerec embeddings store; "
            "move it away or pass another --store"
        )


def to_blob(vector: np.ndarray, dim: int, relpath: str) -> bytes:
    """An embedding as the images table keeps it: `dim` little-endian float32 values."""
    vec = np.asarray(vector, dtype="<f4").reshape(-1)
    if vec.shape[0] != dim:
        raise StoreError(f"embedding of {relpath} has {vec.shape[0]} values, not {dim}")
    return vec.tobytes()


def from_blob(blob: object, dim: int) -> tuple[np.ndarray | None, str]:
    """A stored embedding, or None and why it is damaged (another length, values that are not
    finite)."""
    if not isinstance(blob, bytes) or len(blob) != 4 * dim:
        return None, f"{len(blob) if isinstance(blob, bytes) else 0} bytes, not {4 * dim}"
    vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(vector)):
        return None, "values that are not finite numbers"
    return vector, ""


def box_of(text: object) -> list[float] | None:
    """A stored box (JSON [x1, y1, x2, y2]), or None when it is missing or damaged."""
    try:
        box = json.loads(text) if isinstance(text, str) and text else None
    except ValueError:
        return None
    return box if isinstance(box, list) and len(box) == 4 else None


def made_with(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(embedder id, detector id) recorded in an existing store, read without changing it;
    None when there is no readable facerec store there (opening it will say why)."""
    found = peek(path)
    if found is None:
        return None
    meta = found[1]
    return str(meta.get("embedder_id")), str(meta.get("detector_id", LEGACY_DETECTOR))


def write_quality(conn: sqlite3.Connection, records: Sequence[ImageRecord]) -> None:
    """The main faces' quality rows of `records`, inside the caller's transaction."""
    conn.executemany("DELETE FROM face_quality WHERE relpath = ?", [(r.relpath,) for r in records])
    conn.executemany(
        "INSERT INTO face_quality VALUES (?, ?, ?, ?, ?)",
        [(r.relpath, r.sha256, *r.quality) for r in records if r.quality is not None],
    )


def checked_vector(
    blob: object, dim: int, relpath: str, damaged: dict[str, str], where: object
) -> np.ndarray | None:
    """A stored embedding, or None when the row is damaged (logged once per image, and noted
    in `damaged`)."""
    vector, why = from_blob(blob, dim)
    if vector is None and relpath not in damaged:
        damaged[relpath] = why
        logging.getLogger("pipeline.stores.sqlite").warning(
            "%s: the stored embedding of %s is damaged (%s); left out (extract-embeddings "
            "embeds the image again)",
            where,
            relpath,
            why,
        )
    return vector
