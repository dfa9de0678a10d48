"""extract_embeddings on a Ray cluster: the nets run in Ray Data actors, the driver writes.

The driver lists the dataset and settles what a stat decides (unchanged, bad folder names),
exactly as the local path does (extract.begin, first_look, Tally). The images left go through
Ray Data `map_batches` over a pool of actors that each load the nets once (EmbedWorker); a
worker reads, hashes, decodes and embeds with the local path's own functions (read_item,
process_batch) and returns plain rows. The driver is the only writer: it upserts each batch it
receives in one transaction, so SQLite works as it does locally, and a PostgreSQL gallery
takes about 6,500 rows/s from it while a large load has its index dropped (store.bulk_load;
docs/scaling.md).

A worker that dies is restarted by Ray and its batch run again, up to RETRIES times; a row
that arrives twice is written once. Images must be readable at the same path on every node
(a shared folder, or a `file://` URL).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import cv2
import numpy as np

from pipeline.core import FaceRecognizer
from pipeline.errors import FaceRecError
from pipeline.extract import (
    BATCH_IMAGES,
    Seen,
    Tally,
    begin,
    first_look,
    process_batch,
    read_item,
    report,
)
from pipeline.extras import require
from pipeline.imageio import DatasetItem, DatasetScan, dataset_path, scan_dataset
from pipeline.registry import ModelSpec
from pipeline.stores.records import ImageRecord, OtherFace, Store
from pipeline.types import ExtractReport

RETRIES = 3  # a batch whose worker dies this many times more ends the run (a poison image)


@dataclass(frozen=True, slots=True)
class NetsRecipe:
    """How a worker loads the same nets as the driver (FaceRecognizer.from_models_dir)."""

    models_dir: str | None
    embedder: ModelSpec
    detector: str
    confidence: float
    backend: str
    all_faces: bool

    @classmethod
    def of(cls, recognizer: FaceRecognizer, models_dir: str | None, all_faces: bool) -> NetsRecipe:
        runner = getattr(recognizer.embedder, "runner", None)
        return cls(
            models_dir,
            recognizer.embedder.spec,
            recognizer.detector.spec.id,
            recognizer.detector.confidence,
            runner.name if runner is not None else "auto",
            all_faces,
        )


class EmbedWorker:
    """A Ray Data actor: the nets loaded once, then a batch of images in, their rows out."""

    def __init__(self, recipe: NetsRecipe) -> None:
        threads = int(os.environ.get("OMP_NUM_THREADS") or 0)  # Ray sets it to the actor's CPUs
        if threads > 0:
            cv2.setNumThreads(threads)
        self.recipe = recipe
        self.recognizer = FaceRecognizer.from_models_dir(
            recipe.models_dir,
            recipe.embedder,
            recipe.confidence,
            detector=recipe.detector,
            backend=recipe.backend,
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen = [
            read_item(DatasetItem(str(person), Path(str(path)), str(rel)), str(old) or None)
            for rel, person, path, old in zip(
                batch["relpath"], batch["person"], batch["path"], batch["old_sha256"], strict=True
            )
        ]
        new = [s for s in seen if s.kind == "new"]
        records = iter(process_batch(new, self.recognizer, self.recipe.all_faces))
        rows = [to_row(s, next(records) if s.kind == "new" else None) for s in seen]
        return {
            "doc": np.array([r[0] for r in rows], dtype=object),
            "vectors": np.array([r[1] for r in rows], dtype=object),
        }


def to_row(seen: Seen, record: ImageRecord | None) -> tuple[str, bytes]:
    """One image's outcome as Arrow-friendly values: JSON, and its faces' float32 vectors
    (main face first) as raw bytes, so the driver stores the very bits the worker computed."""
    if record is None:
        doc = {
            "kind": seen.kind,
            "relpath": seen.item.relpath,
            "reason": seen.reason,
            "size": seen.size,
            "mtime_ns": seen.mtime_ns,
        }
        return json.dumps(doc), b""
    doc = {
        f.name: getattr(record, f.name)
        for f in fields(record)
        if f.name not in ("embedding", "others")
    }
    doc["others"] = [
        {"box": o.box, "score": o.score, "landmarks": o.landmarks} for o in record.others
    ]
    vectors = [record.embedding, *(o.embedding for o in record.others)]
    data = b"".join(np.asarray(v, np.float32).tobytes() for v in vectors if v is not None)
    return json.dumps({"kind": "new", **doc}), data


def from_row(doc: dict[str, Any], data: bytes, dim: int) -> ImageRecord:
    """The ImageRecord a worker made (to_row's inverse)."""
    vectors = np.frombuffer(data, np.float32).reshape(-1, dim) if data else None
    rows = vectors if vectors is not None else np.zeros((0, dim), np.float32)
    others = tuple(
        OtherFace(o["box"], o["score"], o["landmarks"], rows[k + 1].copy())
        for k, o in enumerate(doc.pop("others"))
    )
    doc.pop("kind")
    embedding = vectors[0].copy() if vectors is not None else None
    return ImageRecord(**doc, embedding=embedding, others=others)


def start_ray(address: str) -> bool:
    """Join the Ray cluster at `address` ("auto": the one running on this machine, else a new
    one on its cores). Returns whether this call started it (the caller then shuts it down).

    Raises:
        FaceRecError: Ray is not installed, or the cluster cannot be reached.
    """
    require("ray", "--ray")
    import ray

    if ray.is_initialized():
        return False
    if address != "auto":
        _reachable(address)
    try:
        ray.init(
            address=None if address == "auto" else address,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.ERROR,
        )
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise FaceRecError(f"--ray {address}: cannot reach the Ray cluster ({err})") from None
    return True


def _reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing listens at a cluster address (ray.init waits for minutes)."""
    url = urlparse(address if "://" in address else f"ray://{address}")
    try:
        with socket.create_connection((url.hostname or "", url.port or 10001), timeout):
            pass
    except (OSError, ValueError) as err:
        raise FaceRecError(
            f"--ray {address}: no Ray cluster answers there ({getattr(err, 'strerror', None) or err})"
        ) from None


def _pending(tally: Tally, store: Store) -> list[dict[str, str]]:
    """The images a stat cannot settle, as Ray rows; the others are settled here."""
    rows = []
    for item in tally.items:
        old = tally.known.get(item.relpath)
        seen = first_look(item, old)
        if seen is not None:
            tally.settle(seen, store)
            continue
        rows.append(
            {
                "relpath": item.relpath,
                "person": item.person,
                "path": str(item.path),
                "old_sha256": old[0] if old else "",
            }
        )
    return rows


def _embedded_rows(
    rows: list[dict[str, str]], recipe: NetsRecipe, workers: int, worker: type[EmbedWorker]
) -> Iterator[dict[str, Any]]:
    """Every pending image's outcome, as the actors finish them (in no particular order)."""
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    with warnings.catch_warnings():  # max_task_retries has no named parameter yet (Ray 2.60)
        warnings.simplefilter("ignore")
        ds = ray.data.from_items(rows).map_batches(
            worker,
            fn_constructor_args=(recipe,),
            batch_size=BATCH_IMAGES,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            max_restarts=-1,
            max_task_retries=RETRIES,
        )
    for batch in ds.iter_batches(batch_size=BATCH_IMAGES, batch_format="numpy"):
        for doc, data in zip(batch["doc"], batch["vectors"], strict=True):
            yield {"doc": json.loads(doc), "vectors": bytes(data)}


def _write_all(outcomes: Iterable[dict[str, Any]], tally: Tally, store: Store, dim: int) -> None:
    """The workers' rows into the store, BATCH_IMAGES per transaction, each image once."""
    written: set[str] = set()
    batch: list[ImageRecord] = []
    try:
        for out in outcomes:
            doc = out["doc"]
            if doc["relpath"] in written:  # a retried batch's twin: already counted
                continue
            written.add(doc["relpath"])
            if doc["kind"] != "new":
                item = DatasetItem("", Path(), doc["relpath"])
                tally.settle(
                    Seen(item, doc["kind"], doc["size"], doc["mtime_ns"], reason=doc["reason"]),
                    store,
                )
                continue
            batch.append(from_row(doc, out["vectors"], dim))
            if len(batch) >= BATCH_IMAGES:
                tally.write(batch, store)
                batch = []
    except Exception as err:  # Ray wraps a worker's death or an error in its own types
        if isinstance(err, FaceRecError) or type(err).__module__.split(".")[0] != "ray":
            raise
        raise FaceRecError(f"the Ray job failed: {str(err).splitlines()[0]}") from None
    finally:
        if batch:
            tally.write(batch, store)


def cluster_cpus() -> int:
    """CPUs the connected Ray cluster has (the default number of workers)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def extract_embeddings_ray(
    dataset: str | os.PathLike[str],
    store: Store,
    recipe: NetsRecipe,
    workers: int | None = None,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    scan: Callable[[str | os.PathLike[str]], DatasetScan] = scan_dataset,
    remove: bool = True,
    worker: type[EmbedWorker] = EmbedWorker,
) -> ExtractReport:
    """extract_embeddings with the images embedded by `workers` Ray actors (default: one per
    CPU of the cluster). Ray must be initialised (start_ray). Same rules, same store rows.

    Raises:
        DatasetError: the dataset folder is missing or holds no images at all.
        FaceRecError: the Ray job failed (a batch killed its worker RETRIES+1 times); the
            batches written before stay, and the next run resumes after them.
    """
    tally = begin(dataset_path(dataset), store, scan, remove)
    rows = _pending(tally, store)
    dim = recipe.embedder.output_dim
    if rows:
        outcomes: Iterable[dict[str, Any]] = _embedded_rows(
            rows, recipe, workers or cluster_cpus(), worker
        )
        with store.bulk_load(len(rows)):
            _write_all(progress(outcomes, len(rows)) if progress else outcomes, tally, store, dim)
    return report(tally, store, recipe.embedder.verify_distance)
