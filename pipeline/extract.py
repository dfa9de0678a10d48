"""extract_embeddings: walk a folder-per-person dataset and keep the store in step with it.

Only new or changed images are embedded (size+mtime, then content hash, decide); entries of
deleted images are dropped. Each image contributes its main face (recognizer.main_face). Images are processed in
batches: all faces of a batch go through the embedder together and are written in one
transaction, so an interrupted run loses at most one batch and the next run resumes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core import FaceRecognizer, main_face
from pipeline.errors import DatasetError, ImageError
from pipeline.facequality import face_quality
from pipeline.files import read_file
from pipeline.imageio import (
    DECODED_BUDGET,
    DatasetItem,
    DatasetScan,
    decode_image,
    over_budget,
    scan_dataset,
)
from pipeline.prefetch import prefetch
from pipeline.stores.records import STATUS_OK, STATUS_SKIPPED, ImageRecord, OtherFace, Store
from pipeline.types import (
    UNKNOWN,
    Detection,
    Embeddings,
    ExtractReport,
    Image,
    ImageFaces,
    Skip,
    Suspect,
)
from pipeline.vectors import pairwise_distances

log = logging.getLogger(__name__)

BATCH_IMAGES = 16
RESERVED_REASON = f"folder name '{UNKNOWN}' is reserved for unrecognised faces; rename the folder"
CONTROL_REASON = "the folder name holds control characters (a terminal escape?); rename the folder"


def name_problem(person: str) -> str | None:
    """Why a person folder's name cannot be a name, or None. `Unknown` and `unknown ` would be
    read as the answer for strangers; control characters would reach terminals and logs raw."""
    if person.strip().casefold() == UNKNOWN:
        return RESERVED_REASON
    if any(unicodedata.category(c) == "Cc" for c in person):
        return CONTROL_REASON
    return None


NO_FACE = "no face found"


@dataclass(slots=True)
class Seen:
    """What the reader thread found out about one dataset image (see _inspect)."""

    item: DatasetItem
    kind: str  # "new" (to embed), "same" (unchanged), "touched", "skip"
    size: int = 0
    mtime_ns: int = 0
    sha256: str = ""
    image: Image | None = None
    reason: str = ""


def _inspect(items: list[DatasetItem], known: dict[str, tuple]) -> Iterator[Seen]:
    """Per item: unchanged by size/mtime or content hash, or read and decoded for embedding.

    Runs on the prefetch thread; touches no store (SQLite connections stay on their thread).
    """
    for item in items:
        old = known.get(item.relpath)
        yield first_look(item, old) or read_item(item, old[0] if old else None)


def first_look(item: DatasetItem, old: tuple | None) -> Seen | None:
    """What the folder name and a stat decide without reading the image: "skip" (a name that
    cannot be a name, a file that cannot be stat'ed) or "same" (size and mtime as stored), else
    None: the image must be read."""
    if (problem := name_problem(item.person)) is not None:
        return Seen(item, "skip", reason=problem)
    try:
        st = item.path.stat()
    except OSError as err:
        return Seen(item, "skip", reason=f"cannot read ({err.strerror or err})")
    if old is not None and (old[1], old[2]) == (st.st_size, st.st_mtime_ns):
        return Seen(item, "same")
    return None


def read_item(item: DatasetItem, old_sha256: str | None) -> Seen:
    """The image read and hashed: "touched" when its content is the stored one (only the mtime
    moved), else "new", decoded (or with the reason it cannot be)."""
    try:
        data, st = read_file(item.path)
    except OSError as err:
        return Seen(item, "skip", reason=f"cannot read ({err.strerror or err})")
    except ImageError as err:
        return Seen(item, "skip", reason=_reason(err))
    seen = Seen(item, "new", st.st_size, st.st_mtime_ns, hashlib.sha256(data).hexdigest())
    if seen.sha256 == old_sha256:
        seen.kind = "touched"  # same content, new mtime: remember the mtime only
        return seen
    try:
        seen.image = decode_image(data, str(item.path))
    except ImageError as err:
        seen.reason = _reason(err)
    return seen


def process_batch(
    batch: list[Seen], recognizer: FaceRecognizer, all_faces: bool = False
) -> list[ImageRecord]:
    """Records for a batch: its decoded images' main faces (or every face) embedded in one
    pass."""
    images = [s.image for s in batch if s.image is not None]
    faces = iter(recognizer.embed_images(images, every_face=all_faces))
    return [
        image_record(
            s.item,
            s.sha256,
            s.size,
            s.mtime_ns,
            s.image,
            next(faces) if s.image is not None else None,
            s.reason,
            all_faces,
        )
        for s in batch
    ]


def image_record(
    item: DatasetItem,
    sha256: str,
    size: int,
    mtime_ns: int,
    image: Image | None,
    found: ImageFaces | None,
    reason: str = "",
    all_faces: bool = False,
) -> ImageRecord:
    """The store's row for one dataset image, from what embed_images found in it (every face
    when `all_faces`, else the main one); skipped, with the reason, when it gave none."""
    base: dict[str, Any] = {
        "relpath": item.relpath,
        "person": item.person,
        "sha256": sha256,
        "size": size,
        "mtime_ns": mtime_ns,
    }
    if image is None or found is None:
        return ImageRecord(**base, status=STATUS_SKIPPED, reason=reason)
    if found.error is not None:
        return ImageRecord(**base, status=STATUS_SKIPPED, reason=found.error)
    if not found.detections:
        return ImageRecord(**base, status=STATUS_SKIPPED, reason=NO_FACE)
    main = 0
    if all_faces:  # every face was embedded; the main one is the image's own row
        h, w = image.shape[:2]
        chosen = main_face(found.detections, w, h)
        main = next(k for k, d in enumerate(found.detections) if d is chosen)
    face = found.detections[main]
    others = tuple(
        OtherFace(**_stored(d), embedding=found.embeddings[k])
        for k, d in enumerate(found.detections)
        if k != main
    )
    return ImageRecord(
        **base,
        status=STATUS_OK,
        faces=found.found,
        **_stored(face),
        embedding=found.embeddings[main],
        others=others,
        quality=face_quality(image, face.box),
    )


def _stored(face: Detection) -> dict[str, Any]:
    """A face's box, score and landmarks as the store keeps them (rounded, plain lists)."""
    return {
        "box": [round(float(v), 2) for v in face.box],
        "score": round(face.score, 4),
        "landmarks": None if face.landmarks is None else np.round(face.landmarks, 2).tolist(),
    }


def _pixels(seen: Seen) -> int:
    return 0 if seen.image is None else seen.image.nbytes


def _reason(err: ImageError) -> str:
    text = str(err)
    return text.split(": ", 1)[1] if ": " in text else text


@dataclass(slots=True)
class Tally:
    """A run's counts as its images are settled; the same rules for the local and Ray paths."""

    items: list[DatasetItem]
    known: dict[str, tuple]
    removed: int
    skipped: list[Skip]
    embedded: int = 0
    unchanged: int = 0

    def settle(self, seen: Seen, store: Store) -> None:
        """An image that is not embedded: skipped, unchanged, or touched (content as stored,
        new mtime: the row keeps its embedding and learns the mtime)."""
        old = self.known.get(seen.item.relpath)
        if seen.kind == "skip":
            self.skipped.append(Skip(seen.item.relpath, seen.reason))
            return
        if seen.kind == "touched":
            store.touch(seen.item.relpath, seen.size, seen.mtime_ns)
        if old is not None and old[3] == STATUS_OK:
            self.unchanged += 1
        else:
            self.skipped.append(Skip(seen.item.relpath, (old[4] if old else None) or "skipped"))

    def write(self, records: list[ImageRecord], store: Store) -> None:
        """Embedded images' rows, in one transaction."""
        store.upsert(records)
        for r in records:
            if r.status == STATUS_OK:
                self.embedded += 1
            else:
                self.skipped.append(Skip(r.relpath, r.reason or "skipped"))


def begin(
    dataset: str | os.PathLike[str],
    store: Store,
    scan: Callable[[str | os.PathLike[str]], DatasetScan] = scan_dataset,
    remove: bool = True,
) -> Tally:
    """List the dataset, drop the rows of images gone from it (unless not `remove`), and
    start the tally.

    Raises:
        DatasetError: the dataset folder is missing or holds no images at all.
    """
    found = scan(dataset)
    items = list(found.items)
    if not items and not found.problems:
        raise DatasetError(
            f"{dataset}: no images found (expected <dataset>/<person>/*.jpg|png|...)"
        )
    known = store.known()
    kept = tuple(q.relpath for q in found.problems if q.keep)
    present = {i.relpath for i in items}
    if kept:  # a folder that cannot be listed now keeps its rows: it is not an empty folder
        present |= {r for r in known if r.startswith(kept)}
    removed = store.remove_missing(present) if remove else 0
    return Tally(items, known, removed, [Skip(q.relpath, q.reason) for q in found.problems])


def report(tally: Tally, store: Store, verify_distance: float) -> ExtractReport:
    """What a finished run did and what the store now holds."""
    names, vectors, relpaths = store.embeddings()
    faces_seen, multi_face = store.face_counts()
    folders = sorted({i.person for i in tally.items if name_problem(i.person) is None} - set(names))
    return ExtractReport(
        images=len(tally.items),
        embedded=tally.embedded,
        unchanged=tally.unchanged,
        removed=tally.removed,
        skipped=tuple(sorted(tally.skipped, key=lambda s: s.path)),
        people=dict(sorted(Counter(names).items())),
        faces_seen=faces_seen,
        multi_face_images=multi_face,
        people_without_faces=tuple(folders),
        suspects=tuple(find_suspects(names, vectors, relpaths, verify_distance)),
    )


def extract_embeddings(
    dataset: str | os.PathLike[str],
    store: Store,
    recognizer: FaceRecognizer,
    progress: Callable[[Iterable[Seen], int], Iterable[Seen]] | None = None,
    scan: Callable[[str | os.PathLike[str]], DatasetScan] = scan_dataset,
    remove: bool = True,
) -> ExtractReport:
    """Bring `store` in step with `dataset`/<person>/ images and report what happened.

    A store made with all_faces keeps every face of every image (photo libraries); training
    still uses each image's main face only. `scan` lists the images: scan_dataset (a folder
    per person), or scan_library (a photo library, nobody named). `remove` False keeps the
    rows of images this folder does not have (a gallery shared by several machines).

    Raises:
        DatasetError: the dataset folder is missing or holds no images at all.
    """
    tally = begin(dataset, store, scan, remove)
    batch: list[Seen] = []

    def flush() -> None:
        tally.write(process_batch(batch, recognizer, store.all_faces), store)
        batch.clear()

    seen_all: Iterable[Seen] = prefetch(
        _inspect(tally.items, tally.known), BATCH_IMAGES, weight=_pixels, budget=DECODED_BUDGET
    )
    new = sum(1 for i in tally.items if i.relpath not in tally.known)
    with store.bulk_load(new):  # PostgreSQL: a large first load builds its index after
        for seen in progress(seen_all, len(tally.items)) if progress else seen_all:
            if seen.kind != "new":
                tally.settle(seen, store)
                continue
            if over_budget(sum(map(_pixels, batch)), _pixels(seen)):
                flush()
            batch.append(seen)
            if len(batch) >= BATCH_IMAGES:
                flush()
        if batch:
            flush()
    return report(tally, store, recognizer.embedder.spec.verify_distance)


def find_suspects(
    names: list[str], vectors: Embeddings, relpaths: list[str], max_distance: float
) -> list[Suspect]:
    """Images that look like someone else than the rest of their person's folder.

    With 3 or more images, an image whose median distance to the others is above
    max_distance; with exactly 2, both when they are that far apart. A folder mixing people
    (or a group photo where someone else has the main face) trains the wrong face.
    """
    out = []
    labels = np.array(names)
    for person in sorted(set(names)):
        rows = np.flatnonzero(labels == person)
        if len(rows) < 2:
            continue
        d = pairwise_distances(vectors[rows], vectors[rows])
        for k, row in enumerate(rows):
            rest = np.delete(d[k], k)
            typical = float(np.median(rest))
            if typical > max_distance:
                out.append(Suspect(relpaths[row], person, typical))
    return out
