"""LiveGallery: the enrolled faces of a running server, learning without a restart.

The dataset folder stays the source of truth, as for the CLI: an enrolled photo is written to
`<dataset>/<person>/`, then its row to the same store `extract-embeddings` keeps, and only then
is the enrolment answered. So `facerec find`, `export`, `train-model` and a later
`extract-embeddings` see it as if it had been copied there by hand, and a killed server loses
nothing it acknowledged.

Every change goes through one writer thread (the store's SQLite connection lives there) and
replaces an immutable Snapshot; requests read whichever snapshot is current, without a lock.
The recognizer file is refitted on a background thread once changes have been quiet for
`debounce` seconds, saved atomically where train-model saves it, and swapped in. Until then a
face is answered by its nearest enrolled face when that face, or the recognizer's answer, is
newer than the recognizer (snapshot.LiveDecider).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pipeline.atomic import fsync_folder
from pipeline.classify import IdentityClassifier
from pipeline.core import FaceRecognizer
from pipeline.enrol import enrol_photo, enrolment_relpath, no_file_there
from pipeline.errors import DatasetError
from pipeline.extract import extract_embeddings
from pipeline.registry import ModelSpec
from pipeline.search import Neighbour
from pipeline.server.refit import Refitter, refit
from pipeline.server.shared import SharedIndex, watch
from pipeline.server.snapshot import (
    Enrolled,
    Face,
    LiveDecider,
    Snapshot,
    Trained,
    file_version,
    trained_on,
)
from pipeline.stores import is_url, open_store
from pipeline.types import Embeddings, ExtractReport, Image, ImageFaces
from pipeline.vectors import pairwise_distances

log = logging.getLogger(__name__)
T = TypeVar("T")


class LiveGallery:
    """The store, the dataset folder and the recognizer file of one server, kept in step.

    Build with open(); call close() at the end (stops the refit thread, closes the store).
    """

    def __init__(
        self,
        dataset: Path,
        store_path: str | os.PathLike[str],
        model_path: Path,
        spec: ModelSpec,
        detector_id: str,
        debounce: float = 2.0,
    ) -> None:
        self.dataset = dataset
        self.store_path = store_path
        # A PostgreSQL gallery may be shared by several servers: this one reloads when the
        # gallery's generation moves, and its start never removes rows of photos it lacks.
        self.shared = is_url(store_path)
        self._seen_generation = -1
        self._watch_thread = threading.Thread(target=self._watch, name="facerec-watch")
        self.model_path = model_path
        self.spec = spec
        self.detector_id = detector_id
        self.debounce = debounce
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="facerec-writer")
        self._store: Any = None  # store.EmbeddingStore or stores.postgres.PgStore
        self._snapshot = Snapshot((), np.zeros((0, spec.output_dim), np.float32), frozenset(), 0)
        self._trained = Trained(None, "none", -1)
        self._closed = False
        self._refits = 0
        self._refitter = Refitter(self._refit, debounce)
        self._index = SharedIndex(store_path, spec) if self.shared else None

    # -- life cycle ------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        dataset: str | os.PathLike[str],
        store: str | os.PathLike[str],
        model: str | os.PathLike[str],
        recognizer: FaceRecognizer,
        debounce: float = 2.0,
        progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
    ) -> tuple[LiveGallery, ExtractReport]:
        """Bring the store in step with the dataset (as extract-embeddings does), load the
        gallery and the recognizer file, and start the refit thread.

        A recognizer file that was not trained on exactly the stored faces is refitted at once.

        Raises:
            StoreError, IncompatibleModelError, DatasetError: as the CLI's commands do.
        """
        spec = recognizer.embedder.spec
        gallery = cls(
            Path(dataset), store, Path(model), spec, recognizer.detector.spec.id, debounce
        )
        Path(dataset).mkdir(parents=True, exist_ok=True)
        try:
            report = gallery._in_writer(lambda: gallery._load(recognizer, progress))
        except BaseException:
            gallery._writer.shutdown()
            raise
        gallery._refitter.start()
        if gallery.shared:
            gallery._watch_thread.start()
        return gallery, report

    def _load(
        self,
        recognizer: FaceRecognizer,
        progress: Callable[[Iterable[Any], int], Iterable[Any]] | None,
    ) -> ExtractReport:
        self._store = open_store(
            self.store_path, self.spec.id, self.spec.output_dim, self.detector_id
        )
        try:
            report = extract_embeddings(
                self.dataset, self._store, recognizer, progress, remove=not self.shared
            )
        except DatasetError:  # no image at all yet (a new gallery, or only empty folders)
            removed = 0 if self.shared else self._store.remove_missing(())
            report = ExtractReport(0, 0, 0, removed, ())
        self._note_own_write()
        self._snapshot = self._read_snapshot(0)
        names, vectors, _ = self._store.embeddings()
        trained = self._load_classifier()
        if trained is not None and trained_on(trained.classifier, names, vectors):
            self._trained = trained
        else:
            if trained is not None:
                self._trained = replace(trained, generation=-1)  # answers by nearest until refit
            if names:
                self._refitter.schedule(at_once=True)
        return report

    def _load_classifier(self) -> Trained | None:
        if not self.model_path.is_file():
            return None
        classifier = IdentityClassifier.load(self.model_path, self.spec.id)
        if classifier.detector_id != self.detector_id:
            log.warning("%s: trained on another detector's faces; refitting", self.model_path)
            return None
        people = frozenset(classifier.classes_)
        return Trained(classifier, file_version(self.model_path), 0, people)

    def _read_snapshot(self, generation: int) -> Snapshot:
        assert self._store is not None
        folders = [p.name for p in self.dataset.iterdir() if p.is_dir() and _listed(p.name)]
        return Snapshot.of(self._store.records(), folders, self.spec.output_dim, generation)

    # -- a gallery shared with other servers (PostgreSQL) ------------------------------------

    def _note_own_write(self) -> None:
        """After this server's own write: its snapshot already has it, no reload needed."""
        if self.shared:
            mine = self._store.last_generation
            self._seen_generation = mine if mine >= 0 else self._store.generation()

    def _watch(self) -> None:
        spec = self.spec

        def reload(generation: int) -> None:
            self._writer.submit(self._reload, generation)

        watch(self.store_path, spec, self._refitter.pause, lambda: self._seen_generation, reload)

    def _reload(self, generation: int) -> None:
        """Take the gallery as the database has it now; faces new to this server are answered
        by the nearest face until the refit, as its own enrolments are."""
        if generation == self._seen_generation:
            return
        self._snapshot = self._snapshot.reloaded(self._read_snapshot(0))
        self._seen_generation = generation
        self._schedule_refit()

    def close(self) -> None:
        """Stop the refit thread (a refit in progress finishes) and close the store; again is
        a no-op."""
        if self._closed:
            return
        self._closed = True
        self._refitter.stop()
        if self._watch_thread.is_alive():
            self._watch_thread.join()
        self._writer.submit(self._close_store).result()
        self._writer.shutdown()
        if self._index is not None:
            self._index.close()

    def _close_store(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _in_writer(self, job: Callable[[], T]) -> T:
        """Run `job` on the writer thread and wait for it (the SQLite connection lives there,
        and one thread applying every change is what keeps concurrent enrolments whole)."""
        return self._writer.submit(job).result()

    # -- reading ---------------------------------------------------------------------------

    def nearest(self, vector: Embeddings, k: int) -> list[Neighbour]:
        """The k enrolled faces nearest to `vector`, nearest first: from a shared gallery's
        index (shared.py) when it can be read, else from this server's snapshot."""
        if self._index is not None:
            found = self._index.nearest(vector, k)
            if found is not None:
                return found
        snap = self.snapshot
        if not snap.faces:
            return []
        d = pairwise_distances(vector, snap.vectors)[0]
        return [
            Neighbour(snap.faces[i].person, snap.faces[i].relpath, float(d[i]), snap.faces[i].box)
            for i in (int(j) for j in d.argsort(kind="stable")[:k])
        ]

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def trained(self) -> Trained:
        return self._trained

    @property
    def refits(self) -> int:
        return self._refits

    def up_to_date(self) -> bool:
        return self._trained.generation == self._snapshot.generation

    def max_distance(self) -> float:
        """The distance within which the nearest enrolled face names a face: the recognizer's
        calibrated one, else the embedder's measured 1:K threshold."""
        c = self._trained.classifier
        return c.max_distance if c is not None else self.spec.max_distance

    def decider(self) -> LiveDecider:
        """What names faces now (the core's Decider): the recognizer in use, and the faces
        enrolled since its last fit."""
        return LiveDecider(self._trained, self._snapshot, self.max_distance())

    # -- changes (each on the writer thread, then the refit is scheduled) ------------------

    def create_person(self, person: str) -> bool:
        """Make the person's folder; False when it exists already."""

        def job() -> bool:
            folder = self.dataset / person
            if person in self._snapshot.people:
                return False
            no_file_there(folder)
            folder.mkdir(parents=True, exist_ok=True)
            fsync_folder(self.dataset)
            snap = self._snapshot
            self._snapshot = replace(snap, people=snap.people | {person})
            return True

        return self._in_writer(job)

    @property
    def all_faces(self) -> bool:
        """Whether the store keeps every face of a photo (made with --all-faces)."""
        return bool(self._store is not None and self._store.all_faces)

    def enrol(
        self, person: str, data: bytes, suffix: str, image: Image, found: ImageFaces
    ) -> Enrolled:
        """Write the photo as `<dataset>/<person>/<sha256 prefix><suffix>`, store its face,
        and only then return. `image` is `data` decoded and `found` what embed_images gave
        for it (every face for an --all-faces store), computed on an inference worker."""

        def job() -> Enrolled:
            assert self._store is not None
            relpath = enrolment_relpath(person, data, suffix)
            existing = next((f for f in self._snapshot.faces if f.relpath == relpath), None)
            if existing is not None:
                return Enrolled(existing, False)
            no_file_there(self.dataset / person)
            record = enrol_photo(self._store, self.dataset, person, data, suffix, image, found)
            self._note_own_write()
            snap = self._snapshot.with_photo(person, relpath, [record, *record.others])
            self._snapshot = snap
            self._schedule_refit()
            return Enrolled(snap.faces[len(snap.faces) - 1 - len(record.others)], True)

        return self._in_writer(job)

    def delete_face(self, person: str, face_id: str) -> bool:
        """Delete one enrolled photo (its file and its rows); False when there is none."""

        def job() -> bool:
            assert self._store is not None
            relpath = f"{person}/{face_id}"
            if not any(f.relpath == relpath for f in self._snapshot.faces):
                return False
            self._store.delete([relpath])  # first the row: a crash leaves a file to re-embed
            self._note_own_write()
            with contextlib.suppress(FileNotFoundError):
                (self.dataset / relpath).unlink()
            fsync_folder((self.dataset / relpath).parent)
            self._replace_faces(lambda f: f.relpath != relpath)
            return True

        return self._in_writer(job)

    def delete_person(self, person: str) -> int | None:
        """Delete a person's folder and rows; how many photos they had, None if unknown."""

        def job() -> int | None:
            assert self._store is not None
            snap = self._snapshot
            if person not in snap.people:
                return None
            count = len(snap.faces_of(person))
            self._store.delete(sorted({f.relpath for f in snap.faces if f.person == person}))
            self._note_own_write()
            shutil.rmtree(self.dataset / person, ignore_errors=True)
            fsync_folder(self.dataset)
            self._replace_faces(lambda f: f.person != person, drop=person)
            return count

        return self._in_writer(job)

    def rename_person(self, old: str, new: str) -> str:
        """Rename a person's folder and rows. Returns "ok", "unknown" or "exists"."""

        def job() -> str:
            assert self._store is not None
            snap = self._snapshot
            if old not in snap.people:
                return "unknown"
            if new in snap.people:
                return "exists"
            no_file_there(self.dataset / new)
            if (self.dataset / new).exists():
                return "exists"
            source = self.dataset / old
            if source.is_dir():
                source.rename(self.dataset / new)  # first the folder: see docs/design.md
            else:
                (self.dataset / new).mkdir()
            fsync_folder(self.dataset)
            self._store.rename_person(old, new)
            self._note_own_write()
            self._snapshot = snap.renamed(old, new)
            self._schedule_refit()
            return "ok"

        return self._in_writer(job)

    def _replace_faces(self, keep: Callable[[Face], bool], drop: str | None = None) -> None:
        self._snapshot = self._snapshot.keeping(keep, drop)
        self._schedule_refit()

    # -- refitting ---------------------------------------------------------------------------

    def _schedule_refit(self) -> None:
        self._refitter.schedule()

    def _refit(self) -> None:
        self._trained = refit(self._snapshot, self.spec, self.detector_id, self.model_path)
        self._refits += 1

    def wait_until_trained(self, timeout: float = 60.0) -> bool:
        """Block until the recognizer covers the current snapshot (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.up_to_date():
                return True
            time.sleep(0.05)
        return self.up_to_date()


def _listed(name: str) -> bool:
    return not name.startswith(".")
