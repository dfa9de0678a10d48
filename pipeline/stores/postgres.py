"""PgStore: the embeddings store in PostgreSQL with pgvector, behind the Store protocol.

`--store postgresql://user@host/db` (or FACEREC_STORE). One gallery per database, in schema
`facerec`: the same rows as the SQLite store, embeddings as pgvector `vector(D)` columns with
an HNSW index (L2), so nearest-face search runs in the database. Every write is one
transaction; writers take a transaction-level advisory lock on the gallery, so concurrent
writers (several extractions, servers on several machines) queue instead of interleaving, and
a killed client loses only its open transaction. The schema is created and migrated here,
with its version in `facerec.schema_version`. Needs the `postgres` extra (psycopg, pgvector).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.errors import StoreError
from pipeline.extras import install_hint
from pipeline.stores.pgschema import VECTOR_INDEXES, schema
from pipeline.stores.records import (
    APPLICATION,
    STATUS_OK,
    FaceKey,
    ImageFacts,
    ImageRecord,
    StoredFace,
    check_meta,
    facts_of,
    new_meta,
)
from pipeline.types import Embeddings

if TYPE_CHECKING:
    from typing_extensions import Self

SCHEMA_VERSION = 1
_LOCK = 0x66616365  # "face": the advisory lock writers take for a transaction


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


BULK_MIN_ROWS = 5_000  # a load this large, and at least half the rows held, rebuilds the index


class PgStore:
    """An open PostgreSQL gallery, tied to one embedder (id and dimension). Use as a context
    manager; same methods and guarantees as store.EmbeddingStore."""

    def __init__(
        self,
        url: str,
        embedder_id: str,
        dim: int,
        detector_id: str | None = None,
        writer: bool = True,
        all_faces: bool | None = None,
    ) -> None:
        try:
            import psycopg
            from pgvector.psycopg import register_vector
        except ImportError as err:
            raise StoreError(
                f"a PostgreSQL store needs the postgres extra: {install_hint('postgres')}"
            ) from err
        self.url, self.path = url, redact(url)
        self.embedder_id, self.dim = embedder_id, dim
        self._asked = (detector_id, all_faces)  # None: the gallery's own
        self.detector_id, self.all_faces = "", False  # the gallery's own, once opened
        self._psycopg = psycopg
        self.last_generation = -1  # the gallery's generation after this client's last write
        try:
            self.conn = psycopg.connect(url, autocommit=False, connect_timeout=10)
        except psycopg.Error as err:
            raise StoreError(f"{self.path}: cannot connect ({_first_line(err)})") from err
        try:
            with self._transaction() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                for statement in schema(dim):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO facerec.schema_version (version) VALUES (%s) "
                    "ON CONFLICT DO NOTHING",
                    (SCHEMA_VERSION,),
                )
                meta = dict(cur.execute("SELECT key, value FROM facerec.meta").fetchall())
                if not meta:
                    meta = new_meta(embedder_id, dim, detector_id, all_faces) | {"generation": "0"}
                    cur.executemany("INSERT INTO facerec.meta VALUES (%s, %s)", list(meta.items()))
            register_vector(self.conn)
        except BaseException:
            self.conn.close()
            raise
        self._check(meta)

    def _check(self, meta: dict[str, str]) -> None:
        if meta.get("application") != APPLICATION:
            self.close()
            raise StoreError(f"{self.path}: schema facerec holds something else than a gallery")
        try:
            self.detector_id, self.all_faces = check_meta(
                meta, self.path, self.embedder_id, self.dim, *self._asked
            )
        except BaseException:
            self.close()
            raise

    @staticmethod
    def made_with(url: str) -> tuple[str, str] | None:
        """(embedder id, detector id) recorded in the gallery, or None when there is none (or
        no server)."""
        try:
            import psycopg

            with psycopg.connect(url, connect_timeout=10) as conn:
                meta: dict[str, str] = dict(
                    conn.execute(
                        "SELECT key, value FROM facerec.meta WHERE key IN ('embedder_id', 'detector_id')"
                    ).fetchall()
                )
        except Exception:  # no server, no schema yet: opening it will say why
            return None
        if "detector_id" not in meta:
            return None
        return str(meta.get("embedder_id")), str(meta["detector_id"])

    def close(self) -> None:
        if not self.conn.closed:
            self.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, failed: type[BaseException] | None, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, lock: bool = False) -> Iterator[Any]:
        """One transaction (committed at the end, rolled back on error); with `lock`, the
        gallery's advisory lock first, so writers queue."""
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                if lock:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                yield cur
                if lock:  # every write moves the generation: other servers reload on it
                    row = cur.execute(
                        "INSERT INTO facerec.meta VALUES ('generation', '1') ON CONFLICT (key) "
                        "DO UPDATE SET value = (facerec.meta.value::bigint + 1)::text "
                        "RETURNING value"
                    ).fetchone()
                    assert row is not None  # RETURNING gives the row it wrote
                    self.last_generation = int(row[0])
        except self._psycopg.OperationalError as err:
            raise StoreError(
                f"{self.path}: the server failed ({_first_line(err)}); the "
                "gallery keeps what was committed before"
            ) from err

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._transaction() as cur:
            return cur.execute(sql, params).fetchall()

    # -- the store interface ---------------------------------------------------------------

    def generation(self) -> int:
        """A counter every write moves: a server sharing the gallery reloads when it moved."""
        rows = self._rows("SELECT value FROM facerec.meta WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    def known(self) -> dict[str, tuple[str, int, int, str, str | None]]:
        rows = self._rows(
            "SELECT relpath, sha256, size, mtime_ns, status, reason FROM facerec.images"
        )
        return {r[0]: (r[1], int(r[2]), int(r[3]), r[4], r[5]) for r in rows}

    def image_facts(self) -> dict[str, ImageFacts]:
        rows = self._rows(
            "SELECT i.relpath, i.sha256, i.faces, i.landmarks, q.sharpness, q.brightness, q.thumbnail "
            "FROM facerec.images i LEFT JOIN facerec.face_quality q ON q.relpath = i.relpath "
            "AND q.sha256 = i.sha256 WHERE i.status = %s",
            (STATUS_OK,),
        )
        return {r[0]: facts_of(*r[1:]) for r in rows}

    @contextmanager
    def bulk_load(self, rows: int) -> Iterator[bool]:
        """Around a load of `rows` new faces: when it is large (BULK_MIN_ROWS, and half the
        faces already held or more), drop the HNSW indexes for its length and build them again
        at the end, whatever happened. Each row entering the index costs the server 3.5-10 ms
        here (98-271 rows/s), against 6,500 rows/s without it; pgvector's own advice for
        loads is to build the index after. Meanwhile `find` is exact and slower. A client
        killed in between leaves no index: the next open of the gallery builds it (pgschema.schema).
        Yields whether the indexes were dropped."""
        if rows < BULK_MIN_ROWS or rows * 2 < self.stored_faces():
            yield False
            return
        with self._transaction(lock=True) as cur:
            for index in VECTOR_INDEXES:
                cur.execute(f"DROP INDEX IF EXISTS facerec.{index}")
        try:
            yield True
        finally:
            with self._transaction(lock=True) as cur:
                for statement in VECTOR_INDEXES.values():
                    cur.execute(statement)

    def touch(self, relpath: str, size: int, mtime_ns: int) -> None:
        with self._transaction(lock=True) as cur:
            cur.execute(
                "UPDATE facerec.images SET size = %s, mtime_ns = %s WHERE relpath = %s",
                (size, mtime_ns, relpath),
            )

    def _vector(self, vector: np.ndarray, relpath: str) -> np.ndarray:
        vec = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vec.shape[0] != self.dim:
            raise StoreError(f"embedding of {relpath} has {vec.shape[0]} values, not {self.dim}")
        return vec

    def upsert(self, records: Sequence[ImageRecord]) -> None:
        rows = [
            (
                r.relpath,
                r.person,
                r.sha256,
                r.size,
                r.mtime_ns,
                r.status,
                r.reason,
                r.faces,
                _json(r.box),
                r.score,
                _json(r.landmarks),
                None if r.embedding is None else self._vector(r.embedding, r.relpath),
                self.embedder_id,
            )
            for r in records
        ]
        others = [
            (
                r.relpath,
                n,
                _json(o.box),
                o.score,
                _json(o.landmarks),
                self._vector(o.embedding, r.relpath),
            )
            for r in records
            for n, o in enumerate(r.others, start=1)
        ]
        with self._transaction(lock=True) as cur:
            cur.executemany(
                "INSERT INTO facerec.images VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s) ON CONFLICT (relpath) DO UPDATE SET person = EXCLUDED.person, "
                "sha256 = EXCLUDED.sha256, size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns, "
                "status = EXCLUDED.status, reason = EXCLUDED.reason, faces = EXCLUDED.faces, "
                "box = EXCLUDED.box, score = EXCLUDED.score, landmarks = EXCLUDED.landmarks, "
                "embedding = EXCLUDED.embedding, embedder_id = EXCLUDED.embedder_id",
                rows,
            )
            for table in ("extra_faces", "face_quality"):
                cur.execute(
                    f"DELETE FROM facerec.{table} WHERE relpath = ANY(%s)",
                    ([r.relpath for r in records],),
                )
            if others:
                cur.executemany(
                    "INSERT INTO facerec.extra_faces VALUES (%s, %s, %s, %s, %s, %s)", others
                )
            quality = [(r.relpath, r.sha256, *r.quality) for r in records if r.quality]
            if quality:
                cur.executemany(
                    "INSERT INTO facerec.face_quality VALUES (%s, %s, %s, %s, %s)", quality
                )

    def remove_missing(self, present: Iterable[str]) -> int:
        keep = set(present)
        gone = [p for p in self.known() if p not in keep]
        if gone:
            self.delete(gone)
        return len(gone)

    def delete(self, relpaths: Iterable[str]) -> None:
        with self._transaction(lock=True) as cur:
            cur.execute("DELETE FROM facerec.images WHERE relpath = ANY(%s)", (list(relpaths),))

    def rename_person(self, old: str, new: str) -> None:
        start = len(old) + 2
        with self._transaction(lock=True) as cur:  # extra_faces follow by ON UPDATE CASCADE
            cur.execute(
                "UPDATE facerec.images SET person = %s, relpath = %s || '/' || substr(relpath, %s) "
                "WHERE person = %s",
                (new, new, start, old),
            )

    def groups(self) -> tuple[dict[FaceKey, int], dict[int, str]]:
        rows = self._rows("SELECT relpath, face, group_id FROM facerec.face_groups")
        names = self._rows("SELECT group_id, name FROM facerec.group_names")
        return {(r[0], int(r[1])): int(r[2]) for r in rows}, {int(g): str(n) for g, n in names}

    def save_groups(self, groups: dict[FaceKey, int], names: dict[int, str]) -> None:
        with self._transaction(lock=True) as cur:
            cur.execute("DELETE FROM facerec.face_groups")
            cur.execute("DELETE FROM facerec.group_names")
            cur.executemany(
                "INSERT INTO facerec.face_groups VALUES (%s, %s, %s)",
                [(k[0], k[1], g) for k, g in sorted(groups.items())],
            )
            cur.executemany(
                "INSERT INTO facerec.group_names VALUES (%s, %s)", sorted(names.items())
            )

    def stored_faces(self) -> int:
        [(main, extra)] = self._rows(
            "SELECT (SELECT COUNT(*) FROM facerec.images WHERE status = %s), "
            "(SELECT COUNT(*) FROM facerec.extra_faces)",
            (STATUS_OK,),
        )
        return int(main) + int(extra)

    def face_counts(self) -> tuple[int, int]:
        [(seen, multi)] = self._rows(
            "SELECT COALESCE(SUM(faces), 0), COUNT(*) FILTER (WHERE faces > 1) "
            "FROM facerec.images WHERE status = %s",
            (STATUS_OK,),
        )
        return int(seen), int(multi)

    def embeddings(self) -> tuple[list[str], Embeddings, list[str]]:
        rows = self._rows(
            "SELECT person, embedding, relpath FROM facerec.images WHERE status = %s "
            'ORDER BY relpath COLLATE "C"',
            (STATUS_OK,),
        )
        if not rows:
            return [], np.zeros((0, self.dim), np.float32), []
        matrix = np.stack([_np(r[1]) for r in rows])
        return [r[0] for r in rows], matrix, [r[2] for r in rows]

    def records(self) -> list[StoredFace]:
        main = [
            StoredFace(r[0], r[1], r[2], r[3], _np(r[4]), 0, int(r[5]))
            for r in self._rows(
                "SELECT relpath, person, box, score, embedding, mtime_ns FROM facerec.images "
                "WHERE status = %s",
                (STATUS_OK,),
            )
        ]
        others = [
            StoredFace(r[0], r[1], r[2], r[3], _np(r[4]), int(r[5]), int(r[6]))
            for r in self._rows(
                "SELECT e.relpath, i.person, e.box, e.score, e.embedding, e.face, i.mtime_ns "
                "FROM facerec.extra_faces e JOIN facerec.images i ON i.relpath = e.relpath"
            )
        ]
        return sorted(main + others, key=lambda f: (f.relpath, f.face))

    def nearest(self, query: Embeddings, k: int) -> list[tuple[StoredFace, float]]:
        """The k stored faces nearest to `query`, by the HNSW index (approximate), nearest
        first, with their distances."""
        vec = self._vector(query, "the query")
        with self._transaction() as cur:
            # the index's candidate list: at a million faces 150 found the exact nearest 99.0%
            # of the time at 19.5 ms p95, 100 98.0% at 14.2 ms (bench/pg_search.py); >= k
            cur.execute(f"SET LOCAL hnsw.ef_search = {max(150, int(k))}")
            rows = cur.execute(
                "(SELECT relpath, person, box, score, embedding, 0 AS face, embedding <-> %s AS d "
                " FROM facerec.images WHERE status = %s ORDER BY embedding <-> %s LIMIT %s) "
                "UNION ALL "
                "(SELECT e.relpath, i.person, e.box, e.score, e.embedding, e.face, "
                " e.embedding <-> %s AS d FROM facerec.extra_faces e JOIN facerec.images i "
                " ON i.relpath = e.relpath ORDER BY e.embedding <-> %s LIMIT %s) "
                "ORDER BY d LIMIT %s",
                (vec, STATUS_OK, vec, k, vec, vec, k, k),
            ).fetchall()
        return [
            (StoredFace(r[0], r[1], r[2], r[3], _np(r[4]), int(r[5])), float(r[6])) for r in rows
        ]


def _np(value: Any) -> np.ndarray:
    """A pgvector value as float32 (pgvector returns its own Vector type)."""
    data = value.to_numpy() if hasattr(value, "to_numpy") else value
    return np.asarray(data, np.float32)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _first_line(err: BaseException) -> str:
    return (str(err).strip().splitlines() or [type(err).__name__])[0]
