"""migrate_gallery: move a gallery (store + recognizer file) to another embedder in one step.

A store holds one embedder's vectors, and vectors of two embedders cannot be compared, so a
gallery made with FaceNet keeps working with FaceNet until it is moved. Moving re-embeds every
image of the dataset folder into a new store beside the old one (`<store>.migrating`, resumed
if a run was interrupted), trains the recognizer file from it (atomically), and only then
swaps the new store in, keeping the old one as `<store>.<old embedder id>.bak`. Until the swap
the old gallery is untouched; a rerun after any interruption finishes the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.atomic import fsync_folder
from pipeline.core import FaceRecognizer
from pipeline.errors import StoreError
from pipeline.extract import extract_embeddings
from pipeline.imageio import scan_dataset
from pipeline.stores import is_url
from pipeline.stores.lock import WriterLock
from pipeline.stores.sqlite import EmbeddingStore
from pipeline.train import train_model
from pipeline.types import ExtractReport, TrainReport

Progress = Callable[[Iterable[Any], int], Iterable[Any]]  # tqdm-like, as extract takes


@dataclass(frozen=True, slots=True)
class MigrateReport:
    """What a migration did: the embedders before and after, the extraction into the new
    store (None when the store already had the new embedder), the training, the backup."""

    store: str
    before: str
    after: str
    extract: ExtractReport | None
    train: TrainReport
    backup: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "store": self.store,
            "embedder_before": self.before,
            "embedder_after": self.after,
            "extract": self.extract.to_dict() if self.extract is not None else None,
            "train": self.train.to_dict(),
            "backup": self.backup,
        }


def _check_dataset_covers(dataset: Path, store: Path, embedder_id: str, dim: int) -> None:
    """Refuse a dataset folder that lacks images the old store holds: the move would drop
    them (run extract-embeddings first, if they were deleted on purpose)."""
    with EmbeddingStore(store, embedder_id, dim, writer=False) as old:
        stored = set(old.known())
    present = {item.relpath for item in scan_dataset(dataset).items}
    missing = stored - present
    if missing:
        raise StoreError(
            f"{dataset}: {len(missing)} of the {len(stored)} images in {store} are not there "
            f"(first: {sorted(missing)[0]}); pass the --dataset the store was made from, or run "
            "extract-embeddings on it first if they were removed on purpose"
        )


def _swap(store: Path, staging: Path, backup: Path) -> None:
    """Put the staging store in the store's place and keep the old one as `backup`, under the
    store's writer lock. SQLite's -wal and -shm files go with the file they belong to, so the
    new store never meets the old one's journal."""
    lock = WriterLock(store)
    try:
        for suffix in ("", "-wal", "-shm"):
            old = store.with_name(store.name + suffix)
            if old.exists():
                os.replace(old, backup.with_name(backup.name + suffix))
        os.replace(staging, store)
        fsync_folder(store.parent)
    finally:
        lock.release()
    staging.with_name(staging.name + ".lock").unlink(missing_ok=True)


def migrate_gallery(
    dataset: str | os.PathLike[str],
    store_path: str | os.PathLike[str],
    model_path: str | os.PathLike[str],
    recognizer: FaceRecognizer,
    progress: Progress | None = None,
    method: str = "auto",
) -> MigrateReport:
    """Move the gallery at `store_path` (and `model_path`) to `recognizer`'s embedder.

    Raises:
        StoreError: no store there, a PostgreSQL gallery, a photo library (its groups would be
            lost), or a dataset folder that lacks images of the store.
    """
    if is_url(store_path):
        raise StoreError(
            "a PostgreSQL gallery moves into a new database: extract-embeddings --embedder "
            "NAME --store NEW_URL, then train-model --store NEW_URL"
        )
    store = Path(store_path)
    found = EmbeddingStore.peek(store)
    if found is None:
        raise StoreError(f"{store}: no embeddings database to move (run extract-embeddings)")
    tables, meta = found
    spec = recognizer.embedder.spec
    before = str(meta.get("embedder_id"))
    extract, backup = None, None
    if before != spec.id:
        if "face_groups" in tables:
            raise StoreError(
                f"{store}: a photo library (facerec cluster); group it anew with "
                f"--embedder into another --store"
            )
        _check_dataset_covers(Path(dataset), store, before, int(meta.get("dim", 0)))
        staging = store.with_name(store.name + ".migrating")
        with EmbeddingStore(
            staging,
            spec.id,
            spec.output_dim,
            recognizer.detector.spec.id,
            all_faces=meta.get("all_faces") == "1",
        ) as new:
            extract = extract_embeddings(dataset, new, recognizer, progress)
        backup = store.with_name(f"{store.name}.{before}.bak")
        _swap(store, staging, backup)
    with EmbeddingStore.open_existing(store, spec.id, spec.output_dim) as gallery:
        train = train_model(
            gallery,
            model_path,
            spec.max_distance,
            spec.min_probability,
            method=method,
            far=spec.far,
            rule=spec.rule,
        )
    return MigrateReport(
        str(store), before, spec.id, extract, train, str(backup) if backup else None
    )
