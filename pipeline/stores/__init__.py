"""Where embeddings are kept: a SQLite file (sqlite.EmbeddingStore, the default) or a PostgreSQL
database with pgvector (postgres.PgStore), chosen by the location's form. Both implement the
records.Store protocol; commands open stores through open_store and never name a backend."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import StoreError
from pipeline.stores.records import Store

URL_PREFIXES = ("postgresql://", "postgres://")


def is_url(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(URL_PREFIXES)


def open_store(
    location: str | os.PathLike[str],
    embedder_id: str,
    dim: int,
    detector_id: str | None = None,
    writer: bool = True,
    all_faces: bool | None = None,
) -> Store:
    """The store at `location`: a postgresql:// URL, else a SQLite file path."""
    if is_url(location):
        from pipeline.stores.postgres import PgStore

        return PgStore(str(location), embedder_id, dim, detector_id, writer, all_faces)
    from pipeline.stores.sqlite import EmbeddingStore

    return EmbeddingStore(location, embedder_id, dim, detector_id, writer, all_faces)


def open_existing(location: str | os.PathLike[str], embedder_id: str, dim: int) -> Store:
    """A store that must already hold a gallery, for reading (training, find, export).

    Raises:
        StoreError: no store there.
    """
    if is_url(location):
        from pipeline.stores.postgres import PgStore

        if PgStore.made_with(str(location)) is None:
            from pipeline.stores.postgres import redact

            raise StoreError(
                f"{redact(str(location))}: no gallery there (run extract-embeddings "
                "first), or the server cannot be reached"
            )
        return PgStore(str(location), embedder_id, dim, None, writer=False)
    if not Path(location).is_file():
        raise StoreError(f"{location}: no embeddings database (run extract-embeddings first)")
    from pipeline.stores.sqlite import EmbeddingStore

    return EmbeddingStore(location, embedder_id, dim, None, writer=False)


def made_with(location: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(embedder id, detector id) recorded in the store at `location`, None when there is none
    yet: a gallery keeps the models it was made with."""
    if is_url(location):
        from pipeline.stores.postgres import PgStore

        return PgStore.made_with(str(location))
    from pipeline.stores.sqlite import EmbeddingStore

    return EmbeddingStore.made_with(location)
