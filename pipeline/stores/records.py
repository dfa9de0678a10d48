"""What a store holds, whichever backend (SQLite or PostgreSQL): the records, the meta rows
that say which models made it, and the Store protocol every backend implements."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from pipeline.errors import IncompatibleModelError, StoreError
from pipeline.registry import DETECTOR, mismatch_fix
from pipeline.types import Embeddings
from pipeline.vectors import pairwise_distances

if TYPE_CHECKING:
    from typing_extensions import Self

SCHEMA_VERSION = 1
APPLICATION = "facerec-embeddings"
STATUS_OK = "ok"
STATUS_SKIPPED = "skipped"
LEGACY_DETECTOR = DETECTOR.id  # what made the stores written before the detector was recorded

FaceKey = tuple[str, int]  # (relpath, face): face 0 the image's main face


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """What the store knows about one dataset image."""

    relpath: str
    person: str
    sha256: str
    size: int
    mtime_ns: int
    status: str
    reason: str | None = None
    faces: int = 0
    box: list[float] | None = None
    score: float | None = None
    landmarks: list[list[float]] | None = None
    embedding: np.ndarray | None = None
    others: tuple[OtherFace, ...] = ()  # --all-faces: every face but the main one
    quality: tuple[float, float, str] | None = None  # facequality.face_quality's


@dataclass(frozen=True, slots=True)
class OtherFace:
    """A face of an image other than its main one (stores made with --all-faces)."""

    box: list[float]
    score: float
    landmarks: list[list[float]] | None
    embedding: np.ndarray


@dataclass(frozen=True, slots=True)
class StoredFace:
    """One embedded face as the store holds it (export, find)."""

    relpath: str
    person: str
    box: list[float] | None
    score: float | None
    embedding: np.ndarray
    face: int = 0  # 0 the main face; 1, 2, ... the others (--all-faces)
    mtime_ns: int | None = None  # the image file's modification time when it was embedded


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """What the store keeps about an embedded image beside its face (the audit reads it)."""

    sha256: str
    faces: int  # faces found in the image; the store holds the main one (or all, --all-faces)
    landmarks: list[list[float]] | None  # the main face's 5 points, image-left eye first
    sharpness: float | None = None  # facequality.face_quality; None: embedded before it was kept
    brightness: float | None = None
    thumbnail: str | None = None  # the picture, 32x32 grey, as hex (the duplicate check)


def facts_of(
    sha256: object,
    faces: object,
    landmarks: object,
    sharpness: object = None,
    brightness: object = None,
    thumbnail: object = None,
) -> ImageFacts:
    """An ImageFacts from a row, whatever form the backend gives the landmarks in."""
    if isinstance(landmarks, str):
        try:
            landmarks = json.loads(landmarks)
        except ValueError:
            landmarks = None
    good = isinstance(landmarks, list) and len(landmarks) == 5
    count = int(faces) if isinstance(faces, int | float) else 0
    return ImageFacts(
        str(sha256),
        count,
        landmarks if good else None,  # type: ignore[arg-type]
        float(sharpness) if isinstance(sharpness, int | float) else None,
        float(brightness) if isinstance(brightness, int | float) else None,
        thumbnail if isinstance(thumbnail, str) else None,
    )


def new_meta(
    embedder_id: str, dim: int, detector_id: str | None, all_faces: bool | None
) -> dict[str, str]:
    """The meta rows of a new store (either backend)."""
    return {
        "application": APPLICATION,
        "schema_version": str(SCHEMA_VERSION),
        "embedder_id": embedder_id,
        "dim": str(dim),
        "detector_id": detector_id or LEGACY_DETECTOR,
        "all_faces": "1" if all_faces else "0",
    }


def check_meta(
    meta: dict[str, str],
    where: object,
    embedder_id: str,
    dim: int,
    detector_id: str | None,
    all_faces: bool | None,
) -> tuple[str, bool]:
    """A store's (detector id, all_faces) after checking its meta rows against what the
    caller asks for (either backend); None asks for the store's own.

    Raises:
        IncompatibleModelError: another embedder, dimension or detector.
        StoreError: made with or without --all-faces, not as asked.
    """
    if meta.get("embedder_id") != embedder_id or meta.get("dim") != str(dim):
        fix = mismatch_fix(str(meta.get("embedder_id")), embedder_id, "--store")
        raise IncompatibleModelError(f"{where}: {fix}")
    found = meta.get("detector_id", LEGACY_DETECTOR)  # stores before YuNet: all the SSD's
    if detector_id is not None and found != detector_id:
        raise IncompatibleModelError(
            f"{where}: its faces were found by {found}, not {detector_id}; crops of "
            "two detectors do not mix: drop --detector, or pass another --store"
        )
    stored_all = meta.get("all_faces") == "1"
    if all_faces is not None and all_faces != stored_all:
        made = "with" if stored_all else "without"
        raise StoreError(
            f"{where}: made {made} --all-faces; use it the same way, or pass another "
            "--store (its unchanged images would not be embedded again)"
        )
    return found, stored_all


def nearest_records(
    query: Embeddings, records: Sequence[StoredFace], k: int
) -> list[tuple[StoredFace, float]]:
    """The k records nearest to one query embedding, nearest first, by exact search."""
    if not records:
        return []
    matrix = np.stack([r.embedding for r in records])
    d = pairwise_distances(np.asarray(query, np.float32).reshape(1, -1), matrix)[0]
    return [(records[i], float(d[i])) for i in np.argsort(d, kind="stable")[:k]]


class Store(Protocol):
    """A gallery's embeddings, whichever backend keeps them (open_store picks it)."""

    @property
    def path(self) -> object: ...  # where it is, for messages (a file, or a redacted URL)
    @property
    def embedder_id(self) -> str: ...
    @property
    def dim(self) -> int: ...
    @property
    def detector_id(self) -> str: ...
    @property
    def all_faces(self) -> bool: ...
    @property
    def last_generation(self) -> int: ...  # of this process's last write; -1: no generations

    def __enter__(self) -> Self: ...
    def __exit__(self, failed: type[BaseException] | None, *exc: object) -> None: ...
    def close(self) -> None: ...
    def generation(self) -> int: ...
    def known(self) -> dict[str, tuple[str, int, int, str, str | None]]: ...
    def bulk_load(self, rows: int) -> AbstractContextManager[bool]: ...
    def touch(self, relpath: str, size: int, mtime_ns: int) -> None: ...
    def upsert(self, records: Sequence[ImageRecord]) -> None: ...
    def remove_missing(self, present: Iterable[str]) -> int: ...
    def delete(self, relpaths: Iterable[str]) -> None: ...
    def rename_person(self, old: str, new: str) -> None: ...
    def groups(self) -> tuple[dict[FaceKey, int], dict[int, str]]: ...
    def save_groups(self, groups: dict[FaceKey, int], names: dict[int, str]) -> None: ...
    def stored_faces(self) -> int: ...
    def face_counts(self) -> tuple[int, int]: ...
    def embeddings(self) -> tuple[list[str], Embeddings, list[str]]: ...
    def records(self) -> list[StoredFace]: ...
    def image_facts(self) -> dict[str, ImageFacts]: ...
    def nearest(self, query: Embeddings, k: int) -> list[tuple[StoredFace, float]]: ...
