"""The PostgreSQL gallery's tables and indexes (schema `facerec`), made by every open."""

from __future__ import annotations

VECTOR_INDEXES = {  # name: how it is made (by schema() at every open, and after a bulk load)
    "images_embedding_hnsw": "CREATE INDEX IF NOT EXISTS images_embedding_hnsw ON "
    "facerec.images USING hnsw (embedding vector_l2_ops)",
    "extra_embedding_hnsw": "CREATE INDEX IF NOT EXISTS extra_embedding_hnsw ON "
    "facerec.extra_faces USING hnsw (embedding vector_l2_ops)",
}


def schema(dim: int) -> list[str]:
    """The statements that make (or keep) the gallery's tables and indexes, run at every open."""
    return [
        "CREATE EXTENSION IF NOT EXISTS vector",
        "CREATE SCHEMA IF NOT EXISTS facerec",
        "CREATE TABLE IF NOT EXISTS facerec.schema_version (version INTEGER PRIMARY KEY, "
        "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
        "CREATE TABLE IF NOT EXISTS facerec.meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS facerec.images (
            relpath TEXT PRIMARY KEY, person TEXT NOT NULL, sha256 TEXT NOT NULL,
            size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, status TEXT NOT NULL, reason TEXT,
            faces INTEGER NOT NULL DEFAULT 0, box JSONB, score REAL, landmarks JSONB,
            embedding vector({dim}), embedder_id TEXT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS facerec.extra_faces (
            relpath TEXT NOT NULL REFERENCES facerec.images (relpath) ON DELETE CASCADE
                ON UPDATE CASCADE,
            face INTEGER NOT NULL, box JSONB, score REAL, landmarks JSONB,
            embedding vector({dim}) NOT NULL, PRIMARY KEY (relpath, face))""",
        # the main face's sharpness and brightness (facequality.py); a row counts while its
        # sha256 matches the image's
        "CREATE TABLE IF NOT EXISTS facerec.face_quality (relpath TEXT PRIMARY KEY REFERENCES "
        "facerec.images (relpath) ON DELETE CASCADE ON UPDATE CASCADE, sha256 TEXT NOT NULL, "
        "sharpness REAL NOT NULL, brightness REAL NOT NULL, thumbnail TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS facerec.face_groups (relpath TEXT NOT NULL, "
        "face INTEGER NOT NULL, group_id INTEGER NOT NULL, PRIMARY KEY (relpath, face))",
        "CREATE TABLE IF NOT EXISTS facerec.group_names (group_id INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL)",
        *VECTOR_INDEXES.values(),
        "CREATE INDEX IF NOT EXISTS images_person ON facerec.images (person)",
    ]
