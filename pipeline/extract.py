"""extract_embeddings: walk a folder-per-person dataset and keep the store in step with it.

Only new or changed images are embedded (size+mtime, then content hash, decide); entries of
deleted images are dropped. Each image contributes its largest face. Images are processed in
batches: all faces of a batch go through the embedder together and are written in one
transaction, so an interrupted run loses at most one batch and the next run resumes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .align import face_crops
from .errors import DatasetError, ImageError
from .imageio import DatasetItem, decode_image, iter_dataset
from .recognizer import FaceRecognizer
from .store import STATUS_OK, STATUS_SKIPPED, EmbeddingStore, ImageRecord
from .types import UNKNOWN, ExtractReport, Skip

log = logging.getLogger(__name__)

BATCH_IMAGES = 16
RESERVED_REASON = f"folder name '{UNKNOWN}' is reserved for unrecognised faces; rename the folder"
NO_FACE = "no face found"


@dataclass(slots=True)
class _Pending:
    item: DatasetItem
    sha256: str
    size: int
    mtime_ns: int
    data: bytes


def _stat(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _process_batch(batch: list[_Pending], recognizer: FaceRecognizer) -> list[ImageRecord]:
    """Detect in each image, then embed every chosen face of the batch in one pass."""
    records: list[ImageRecord] = []
    chosen = []  # (index in records, crop)
    for p in batch:
        base = {"relpath": p.item.relpath, "person": p.item.person, "sha256": p.sha256,
                "size": p.size, "mtime_ns": p.mtime_ns}  # fmt: skip
        try:
            image = decode_image(p.data, str(p.item.path))
        except ImageError as err:
            records.append(ImageRecord(**base, status=STATUS_SKIPPED, reason=_reason(err)))
            continue
        detections = recognizer.find_faces(image)
        if not detections:
            records.append(ImageRecord(**base, status=STATUS_SKIPPED, reason=NO_FACE))
            continue
        face = max(detections, key=lambda d: d.area)
        chosen.append((len(records), face_crops(image, [face], recognizer.embedder.spec)[0]))
        records.append(
            ImageRecord(
                **base,
                status=STATUS_OK,
                faces=len(detections),
                box=[round(float(v), 2) for v in face.box],
                score=round(face.score, 4),
                landmarks=None if face.landmarks is None else np.round(face.landmarks, 2).tolist(),
            )
        )
    if chosen:
        vectors = recognizer.embedder.embed(np.stack([c for _, c in chosen]))
        for (index, _), vector in zip(chosen, vectors, strict=True):
            records[index] = dataclasses.replace(records[index], embedding=vector)
    return records


def _reason(err: ImageError) -> str:
    text = str(err)
    return text.split(": ", 1)[1] if ": " in text else text


def extract_embeddings(
    dataset: str | os.PathLike[str],
    store: EmbeddingStore,
    recognizer: FaceRecognizer,
    progress: Callable[[Iterable[DatasetItem], int], Iterable[DatasetItem]] | None = None,
) -> ExtractReport:
    """Bring `store` in step with `dataset`/<person>/ images and report what happened.

    Raises:
        DatasetError: the dataset folder is missing or holds no images at all.
    """
    items = list(iter_dataset(dataset))
    if not items:
        raise DatasetError(
            f"{dataset}: no images found (expected <dataset>/<person>/*.jpg|png|...)"
        )
    known = store.known()
    removed = store.remove_missing(i.relpath for i in items)
    embedded = unchanged = 0
    skipped: list[Skip] = []
    batch: list[_Pending] = []

    def flush() -> None:
        nonlocal embedded
        records = _process_batch(batch, recognizer)
        store.upsert(records)
        for r in records:
            if r.status == STATUS_OK:
                embedded += 1
            else:
                skipped.append(Skip(r.relpath, r.reason or "skipped"))
        batch.clear()

    iterable: Iterable[DatasetItem] = progress(items, len(items)) if progress else items
    for item in iterable:
        if item.person == UNKNOWN:
            skipped.append(Skip(item.relpath, RESERVED_REASON))
            continue
        try:
            size, mtime_ns = _stat(item.path)
            old = known.get(item.relpath)
            same_stat = old is not None and (old[1], old[2]) == (size, mtime_ns)
            data = b"" if same_stat else item.path.read_bytes()
        except OSError as err:
            skipped.append(Skip(item.relpath, f"cannot read ({err.strerror or err})"))
            continue
        digest = "" if same_stat else hashlib.sha256(data).hexdigest()
        if old is not None and (same_stat or old[0] == digest):
            if not same_stat:  # touched but identical content: remember the new mtime
                store.touch(item.relpath, size, mtime_ns)
            if old[3] == STATUS_OK:
                unchanged += 1
            else:
                skipped.append(Skip(item.relpath, old[4] or "skipped"))
            continue
        batch.append(_Pending(item, digest, size, mtime_ns, data))
        if len(batch) >= BATCH_IMAGES:
            flush()
    if batch:
        flush()
    names, _, _ = store.embeddings()
    faces_seen, multi_face = store.face_counts()
    return ExtractReport(
        images=len(items),
        embedded=embedded,
        unchanged=unchanged,
        removed=removed,
        skipped=tuple(sorted(skipped, key=lambda s: s.path)),
        people=dict(sorted(Counter(names).items())),
        faces_seen=faces_seen,
        multi_face_images=multi_face,
    )
