"""EmbeddingStore: one SQLite file holding, per dataset image, its face and embedding.

Each image row records person, content hash, size and mtime (to notice changes), the result
(embedded or skipped with a reason), the chosen face's box, score and landmarks, the embedding
and the embedder id. Writes go in one transaction per batch, so a crash loses at most the
batch in flight and a re-run resumes.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import StoreError
from pipeline.stores.lock import WriterLock
from pipeline.stores.records import (
    APPLICATION,
    SCHEMA_VERSION,
    STATUS_OK,
    FaceKey,
    ImageFacts,
    ImageRecord,
    StoredFace,
    check_meta,
    facts_of,
    nearest_records,
    new_meta,
)
from pipeline.stores.sqlitefile import (
    EXTRA_FACES,
    GROUPS,
    SCHEMA,
    box_of,
    check_before_opening,
    checked_vector,
    made_with,
    peek,
    to_blob,
    write_quality,
)
from pipeline.types import Embeddings

if TYPE_CHECKING:
    from typing_extensions import Self


class EmbeddingStore:
    """An open store, tied to one embedder (id and dimension). Use as a context manager."""

    last_generation = -1  # a SQLite gallery has no generations (see PgStore)

    def __init__(
        self,
        path: str | os.PathLike[str],
        embedder_id: str,
        dim: int,
        detector_id: str | None = None,
        writer: bool = True,
        all_faces: bool | None = None,
    ) -> None:
        """`detector_id` None (reading) accepts the store's own detector; a new store records
        `detector_id` (None: the SSD, what made every store before detectors were recorded)."""
        self.path = Path(path)
        self.embedder_id = embedder_id
        self.dim = dim
        self._asked = (detector_id, all_faces)  # None: the store's own
        self.detector_id = ""  # the store's own, once opened
        self.all_faces = False
        self.damaged: dict[str, str] = {}  # relpath -> why its stored row was left out
        check_before_opening(self.path)
        self._new = not self.path.exists()
        self._made_folders = [p for p in reversed(self.path.parents) if not p.exists()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = WriterLock(self.path) if writer else None
        try:
            self.conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk before it returns, so an acknowledged enrolment
            # (facerec serve) survives a power cut, not only a killed process.
            self.conn.execute("PRAGMA synchronous=FULL")
            self._init_schema()
        except sqlite3.OperationalError as err:  # a full disk, a read-only folder
            self._release()
            raise StoreError(f"{self.path}: cannot open the store ({err})") from err
        except sqlite3.DatabaseError as err:
            self._release()
            raise StoreError(
                f"{self.path}: not a usable embeddings database ({err}); "
                "move it away or pass another --store"
            ) from err
        except BaseException:
            self._release()
            raise

    @classmethod
    def open_existing(
        cls, path: str | os.PathLike[str], embedder_id: str, dim: int
    ) -> EmbeddingStore:
        """Open a store that must already exist, for reading (training): no writer lock, and
        SQLite's WAL gives a consistent snapshot even while an extraction is writing."""
        if not Path(path).is_file():
            raise StoreError(f"{path}: no embeddings database (run extract-embeddings first)")
        return cls(path, embedder_id, dim, None, writer=False)

    @staticmethod
    def peek(path: str | os.PathLike[str]) -> tuple[set[str], dict[str, str]] | None:
        """(table names, meta rows) of an existing facerec store (sqlitefile.peek)."""
        return peek(path)

    @staticmethod
    def made_with(path: str | os.PathLike[str]) -> tuple[str, str] | None:
        """(embedder id, detector id) of an existing store (sqlitefile.made_with)."""
        return made_with(path)

    def _init_schema(self) -> None:
        tables = {
            r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and not {"meta", "images"} <= tables:
            raise StoreError(f"{self.path}: an SQLite file, but not a facerec embeddings store")
        if not tables:
            self.conn.executescript(SCHEMA)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
            if not meta:
                meta = new_meta(self.embedder_id, self.dim, *self._asked)
                self.conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
        if meta.get("application") != APPLICATION:
            raise StoreError(f"{self.path}: not a facerec embeddings store")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise StoreError(
                f"{self.path}: store schema {meta.get('schema_version')}, this version uses "
                f"{SCHEMA_VERSION}; delete it and re-run extract-embeddings"
            )
        self.detector_id, self.all_faces = check_meta(
            meta, self.path, self.embedder_id, self.dim, *self._asked
        )
        if self._lock is not None or not tables:  # readers never write (train-model, find)
            self.conn.executescript(EXTRA_FACES)

    def close(self) -> None:
        self.conn.close()
        self._release()

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, failed: type[BaseException] | None, *exc: object) -> None:
        """Close; and when the run failed before it stored anything in a store it created
        (an empty or missing dataset, a Ctrl-C at the start), leave nothing behind: not the
        database, its journal files, its lock file, nor the folders made for it."""
        discard = failed is not None and self._new and self._lock is not None and self._empty()
        self.close()
        if discard:
            for suffix in ("", "-wal", "-shm", ".lock"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            for folder in reversed(self._made_folders):
                with contextlib.suppress(OSError):  # not empty after all: keep it
                    folder.rmdir()

    def _empty(self) -> bool:
        try:
            return self.conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0
        except sqlite3.Error:
            return False

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """SQLite's write errors (a full disk, a read-only folder, an I/O error) as one line;
        the transaction is rolled back, so the store keeps everything committed before."""
        try:
            yield
        except sqlite3.OperationalError as err:
            raise StoreError(
                f"{self.path}: cannot write ({err}); the store keeps what was stored before"
            ) from err

    def known(self) -> dict[str, tuple[str, int, int, str, str | None]]:
        """relpath -> (sha256, size, mtime_ns, status, reason) for every stored image. A row
        whose embedding is damaged (not `dim` float32 values) is left out, so the next
        extraction embeds its image again and replaces it."""
        rows = self.conn.execute(
            "SELECT relpath, sha256, size, mtime_ns, status, reason, embedding FROM images"
        )
        return {
            r[0]: (r[1], r[2], r[3], r[4], r[5])
            for r in rows
            if r[4] != STATUS_OK or self._vector(r[6], r[0]) is not None
        }

    @contextlib.contextmanager
    def bulk_load(self, rows: int) -> Iterator[bool]:
        """Nothing to prepare for many rows in a file (PgStore drops and rebuilds its index)."""
        yield False

    def touch(self, relpath: str, size: int, mtime_ns: int) -> None:
        """Record a new mtime for an image whose content did not change."""
        with self._writing(), self.conn:
            self.conn.execute(
                "UPDATE images SET size = ?, mtime_ns = ? WHERE relpath = ?",
                (size, mtime_ns, relpath),
            )

    def upsert(self, records: Sequence[ImageRecord]) -> None:
        """Insert or replace records, all in one transaction."""
        rows = []
        for r in records:
            emb = None if r.embedding is None else to_blob(r.embedding, self.dim, r.relpath)
            rows.append(
                (
                    r.relpath,
                    r.person,
                    r.sha256,
                    r.size,
                    r.mtime_ns,
                    r.status,
                    r.reason,
                    r.faces,
                    json.dumps(r.box) if r.box is not None else None,
                    r.score,
                    json.dumps(r.landmarks) if r.landmarks is not None else None,
                    emb,
                    self.embedder_id,
                )
            )
        others = [
            (
                r.relpath,
                n,
                json.dumps(o.box),
                o.score,
                json.dumps(o.landmarks) if o.landmarks is not None else None,
                to_blob(o.embedding, self.dim, r.relpath),
            )
            for r in records
            for n, o in enumerate(r.others, start=1)
        ]
        with self._writing(), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )
            self.conn.executemany(
                "DELETE FROM extra_faces WHERE relpath = ?", [(r.relpath,) for r in records]
            )
            self.conn.executemany("INSERT INTO extra_faces VALUES (?, ?, ?, ?, ?, ?)", others)
            write_quality(self.conn, records)

    def remove_missing(self, present: Iterable[str]) -> int:
        """Delete rows whose image is no longer in the dataset; returns how many."""
        keep = set(present)
        gone = [(p,) for p in self.known() if p not in keep]
        if gone:
            with self._writing(), self.conn:
                self.conn.execute("BEGIN IMMEDIATE")
                for table in ("images", "extra_faces", "face_quality"):
                    self.conn.executemany(f"DELETE FROM {table} WHERE relpath = ?", gone)
        return len(gone)

    def delete(self, relpaths: Iterable[str]) -> None:
        """Delete the rows of these images (and their other faces), in one transaction."""
        gone = [(p,) for p in relpaths]
        with self._writing(), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for table in ("images", "extra_faces", "face_quality"):
                self.conn.executemany(f"DELETE FROM {table} WHERE relpath = ?", gone)

    def rename_person(self, old: str, new: str) -> None:
        """Move every row of person `old` to `new` (`old/x.jpg` becomes `new/x.jpg`), in one
        transaction, as renaming the dataset folder does."""
        start = len(old) + 2  # SQLite's substr counts from 1; skip "old/"
        with self._writing(), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "UPDATE images SET person = ?, relpath = ? || '/' || substr(relpath, ?) "
                "WHERE person = ?",
                (new, new, start, old),
            )
            for table in ("extra_faces", "face_quality"):
                self.conn.execute(
                    f"UPDATE {table} SET relpath = ? || '/' || substr(relpath, ?) "
                    "WHERE substr(relpath, 1, ?) = ?",
                    (new, start, start - 1, old + "/"),
                )

    def _has_table(self, name: str) -> bool:
        return bool(
            self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
            ).fetchone()
        )

    def groups(self) -> tuple[dict[FaceKey, int], dict[int, str]]:
        """({(relpath, face): group id}, {group id: name}) as last saved; empty when never."""
        if not self._has_table("face_groups"):
            return {}, {}
        rows = self.conn.execute("SELECT relpath, face, group_id FROM face_groups").fetchall()
        names = self.conn.execute("SELECT group_id, name FROM group_names").fetchall()
        return {(r[0], int(r[1])): int(r[2]) for r in rows}, {int(g): str(n) for g, n in names}

    def save_groups(self, groups: dict[FaceKey, int], names: dict[int, str]) -> None:
        """Replace the saved groups and names, in one transaction."""
        with self._writing(), self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for statement in GROUPS.split(";"):
                if statement.strip():
                    self.conn.execute(statement)
            self.conn.execute("DELETE FROM face_groups")
            self.conn.execute("DELETE FROM group_names")
            self.conn.executemany(
                "INSERT INTO face_groups VALUES (?, ?, ?)",
                [(k[0], k[1], g) for k, g in sorted(groups.items())],
            )
            self.conn.executemany("INSERT INTO group_names VALUES (?, ?)", sorted(names.items()))

    def _has_extra_faces(self) -> bool:
        """Readers never create the table, so a store from before --all-faces may lack it."""
        return self._has_table("extra_faces")

    def stored_faces(self) -> int:
        """How many faces are stored: one per embedded image, plus --all-faces' others."""
        main = self.conn.execute(
            "SELECT COUNT(*) FROM images WHERE status = ?", (STATUS_OK,)
        ).fetchone()[0]
        has_extra = self._has_extra_faces()
        extra = (
            self.conn.execute("SELECT COUNT(*) FROM extra_faces").fetchone()[0] if has_extra else 0
        )
        return int(main) + int(extra)

    def face_counts(self) -> tuple[int, int]:
        """(faces seen in embedded images, embedded images that showed more than one face)."""
        row = self.conn.execute(
            "SELECT COALESCE(SUM(faces), 0), COALESCE(SUM(faces > 1), 0) FROM images WHERE status = ?",
            (STATUS_OK,),
        ).fetchone()
        return int(row[0]), int(row[1])

    def image_facts(self) -> dict[str, ImageFacts]:
        """relpath -> content hash, faces found, the main face's landmarks and quality."""
        quality = self._has_table("face_quality")  # not in a store made before it, read only
        rows = self.conn.execute(
            "SELECT i.relpath, i.sha256, i.faces, i.landmarks, "
            + (
                "q.sharpness, q.brightness, q.thumbnail FROM images i LEFT JOIN face_quality q ON "
                "q.relpath = i.relpath AND q.sha256 = i.sha256 "
                if quality
                else "NULL, NULL, NULL FROM images i "
            )
            + "WHERE i.status = ?",
            (STATUS_OK,),
        )
        return {r[0]: facts_of(*r[1:]) for r in rows}

    def embeddings(self) -> tuple[list[str], Embeddings, list[str]]:
        """(names, (N, D) embeddings, relpaths) of every embedded image, in path order."""
        rows = self.conn.execute(
            "SELECT person, embedding, relpath FROM images WHERE status = ? ORDER BY relpath",
            (STATUS_OK,),
        ).fetchall()
        good = [(r, v) for r in rows if (v := self._vector(r[1], r[2])) is not None]
        if not good:
            return [], np.zeros((0, self.dim), np.float32), []
        matrix = np.stack([v for _, v in good])
        return [r[0] for r, _ in good], matrix, [r[2] for r, _ in good]

    def _vector(self, blob: object, relpath: str) -> np.ndarray | None:
        """A stored embedding, or None (logged once, with its image) when the row is damaged:
        not `dim` float32 values, or not finite ones. Commands go on with the
        other rows; extract-embeddings embeds such an image again."""
        return checked_vector(blob, self.dim, relpath, self.damaged, self.path)

    def records(self) -> list[StoredFace]:
        """Every embedded face (with --all-faces, every face of every image) with its person,
        source path, box and score, in path order; `embeddings()` keeps to the main faces."""
        rows = self.conn.execute(
            "SELECT relpath, person, box, score, embedding, mtime_ns FROM images WHERE status = ? "
            "ORDER BY relpath",
            (STATUS_OK,),
        ).fetchall()
        main = [
            StoredFace(r[0], r[1], box_of(r[2]), r[3], v, 0, r[5])
            for r in rows
            if (v := self._vector(r[4], r[0])) is not None
        ]
        has_extra = self._has_extra_faces()
        extra = (
            self.conn.execute(
                "SELECT e.relpath, i.person, e.box, e.score, e.embedding, e.face, i.mtime_ns "
                "FROM extra_faces e "
                "JOIN images i ON i.relpath = e.relpath ORDER BY e.relpath, e.face"
            ).fetchall()
            if has_extra
            else []
        )
        others = [
            StoredFace(r[0], r[1], box_of(r[2]), r[3], v, r[5], r[6])
            for r in extra
            if (v := self._vector(r[4], f"{r[0]}#{r[5]}")) is not None
        ]
        return sorted(main + others, key=lambda f: (f.relpath, f.face))

    def nearest(self, query: Embeddings, k: int) -> list[tuple[StoredFace, float]]:
        """The k stored faces nearest to one query embedding, by exact search over records()."""
        return nearest_records(query, self.records(), k)

    def generation(self) -> int:
        """A SQLite gallery is one process's: it has no generations to watch (always 0)."""
        return 0
