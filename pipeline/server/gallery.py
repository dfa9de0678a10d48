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
newer than the recognizer (name_faces).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pipeline.atomic import fsync_folder
from pipeline.classify import IdentityClassifier
from pipeline.core import FaceRecognizer
from pipeline.enrol import enrol_photo, enrolment_relpath
from pipeline.errors import DatasetError, NameTaken, StoreError
from pipeline.extract import extract_embeddings
from pipeline.files import read_file
from pipeline.registry import ModelSpec
from pipeline.search import Neighbour
from pipeline.stores import is_url, open_store
from pipeline.train import fit_classifier
from pipeline.types import Embeddings, ExtractReport, Image, ImageFaces, Match
from pipeline.vectors import pairwise_distances

log = logging.getLogger(__name__)
T = TypeVar("T")

BY_RECOGNIZER = "recognizer"
BY_NEAREST = "nearest"


def face_id(relpath: str) -> str:
    """The image's path inside its person's folder: what the API calls a face."""
    return relpath.split("/", 1)[1]


@dataclass(frozen=True, slots=True)
class Face:
    """One enrolled image's main face (or, in an --all-faces store, any face of it)."""

    relpath: str  # "<person>/<file>", relative to the dataset
    person: str
    box: list[float] | None
    score: float | None
    main: bool
    generation: int  # the snapshot generation that added it

    @property
    def id(self) -> str:
        return face_id(self.relpath)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The gallery at one moment; replaced as a whole on every change, never modified."""

    faces: tuple[Face, ...]
    vectors: Embeddings  # (N, D), row i is faces[i]
    people: frozenset[str]  # every person folder, with faces or not
    generation: int

    def people_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(sorted(self.people), 0)
        for f in self.faces:
            if f.main:
                counts[f.person] = counts.get(f.person, 0) + 1
        return counts

    def faces_of(self, person: str) -> list[Face]:
        return [f for f in self.faces if f.person == person and f.main]


@dataclass(frozen=True, slots=True)
class Trained:
    """The recognizer in use: its classifier (None before the first fit), the first 12 hex
    digits of its file's sha256, and the snapshot generation it was fitted on."""

    classifier: IdentityClassifier | None
    version: str
    generation: int
    people: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The answer to an enrolment: the face, and whether the photo was new to that person."""

    face: Face
    created: bool


def file_version(path: str | os.PathLike[str]) -> str:
    data, _ = read_file(path, 1 << 30)
    return hashlib.sha256(data).hexdigest()[:12]


def _no_file_there(folder: Path) -> None:
    """A person's folder cannot be made where the dataset holds a file of that name.

    Raises:
        NameTaken: there is a file (or link) of that name in the dataset.
    """
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise NameTaken(
            f"{folder.name!r} is a file in the dataset folder, not a person's "
            "folder; pick another name"
        )


def name_faces(
    vectors: Embeddings, trained: Trained, snap: Snapshot, max_distance: float
) -> list[tuple[Match, str]]:
    """A Match per face, and what gave it: the recognizer, or the nearest enrolled face.

    The nearest face answers when the recognizer has not seen it yet (enrolled since the last
    fit), when the recognizer's name is no longer enrolled (deleted, renamed), and when there
    is no recognizer; it names its person within `max_distance`.
    """
    if len(vectors) == 0:
        return []
    matches = trained.classifier.predict(vectors) if trained.classifier is not None else None
    if matches is not None and trained.generation == snap.generation:
        return [(m, BY_RECOGNIZER) for m in matches]
    if not snap.faces:
        return [(Match(None, None, float("nan"), None), BY_NEAREST) for _ in range(len(vectors))]
    d = pairwise_distances(np.asarray(vectors, np.float32), snap.vectors)
    enrolled = {f.person for f in snap.faces}
    out = []
    for i, row in enumerate(d):
        j = int(row.argmin())
        face, dist = snap.faces[j], float(row[j])
        m = matches[i] if matches is not None else None
        new = face.generation > trained.generation
        gone = m is not None and m.candidate is not None and m.candidate not in enrolled
        if m is None or new or gone:
            name = face.person if dist <= max_distance else None
            out.append((Match(name, None, dist, face.person), BY_NEAREST))
        else:
            out.append((m, BY_RECOGNIZER))
    return out


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
        self._watch_thread = threading.Thread(target=self._watch_loop, name="facerec-watch")
        self.model_path = model_path
        self.spec = spec
        self.detector_id = detector_id
        self.debounce = debounce
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="facerec-writer")
        self._store: Any = None  # store.EmbeddingStore or stores.postgres.PgStore
        self._snapshot = Snapshot((), np.zeros((0, spec.output_dim), np.float32), frozenset(), 0)
        self._trained = Trained(None, "none", -1)
        self._changed = threading.Condition()
        self._due: float | None = None
        self._stopping = False
        self._closed = False
        self._refits = 0
        self._refit_thread = threading.Thread(target=self._refit_loop, name="facerec-refit")
        self._finder: Any = None  # a shared gallery's reader for nearest(), opened on first use
        self._finder_lock = threading.Lock()

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
        gallery._refit_thread.start()
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
            report = replace(_empty_report(), removed=removed)
        self._note_own_write()
        self._snapshot = self._read_snapshot(0)
        names, vectors, _ = self._store.embeddings()
        trained = self._load_classifier()
        if trained is not None and _trained_on(trained.classifier, names, vectors):
            self._trained = trained
        else:
            if trained is not None:
                self._trained = replace(trained, generation=-1)  # answers by nearest until refit
            if names:
                self._due = time.monotonic()  # refit as soon as the thread starts
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
        records = self._store.records()
        faces = tuple(
            Face(r.relpath, r.person, r.box, r.score, r.face == 0, generation) for r in records
        )
        vectors = (
            np.stack([r.embedding for r in records]).astype(np.float32)
            if records
            else np.zeros((0, self.spec.output_dim), np.float32)
        )
        folders = {p.name for p in self.dataset.iterdir() if p.is_dir() and _listed(p.name)}
        return Snapshot(faces, vectors, frozenset(folders | {f.person for f in faces}), generation)

    # -- a gallery shared with other servers (PostgreSQL) ------------------------------------

    def _note_own_write(self) -> None:
        """After this server's own write: its snapshot already has it, no reload needed."""
        if self.shared:
            mine = getattr(self._store, "last_generation", -1)
            self._seen_generation = mine if mine >= 0 else self._store.generation()

    def _watch_loop(self, every: float = 0.5) -> None:
        """Poll the gallery's generation on a connection of its own; when another server
        wrote, reload on the writer thread."""
        reader = open_store(self.store_path, self.spec.id, self.spec.output_dim, writer=False)
        try:
            while not self._stopping:
                with self._changed:
                    self._changed.wait(every)
                if self._stopping:
                    return
                try:
                    now = reader.generation()
                except Exception:  # a dropped connection: keep serving, try again
                    log.warning("the shared gallery cannot be read; retrying", exc_info=True)
                    continue
                if now != self._seen_generation:
                    self._writer.submit(self._reload, now)
        finally:
            reader.close()

    def _reload(self, generation: int) -> None:
        """Take the gallery as the database has it now; faces new to this server are answered
        by the nearest face until the refit, as its own enrolments are."""
        if generation == self._seen_generation:
            return
        old = self._snapshot
        gen = old.generation + 1
        fresh = self._read_snapshot(gen)
        before = {(f.relpath, f.main): f.generation for f in old.faces}
        faces = tuple(
            replace(f, generation=before.get((f.relpath, f.main), gen)) for f in fresh.faces
        )
        self._snapshot = Snapshot(faces, fresh.vectors, fresh.people | old.people, gen)
        self._seen_generation = generation
        self._schedule_refit()

    def close(self) -> None:
        """Stop the refit thread (a refit in progress finishes) and close the store; again is
        a no-op."""
        if self._closed:
            return
        self._closed = True
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._refit_thread.is_alive():
            self._refit_thread.join()
        if self._watch_thread.is_alive():
            self._watch_thread.join()
        self._writer.submit(self._close_store).result()
        self._writer.shutdown()
        with self._finder_lock:
            if self._finder is not None:
                self._finder.close()
                self._finder = None

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
        """The k enrolled faces nearest to `vector`, nearest first. A shared (PostgreSQL)
        gallery answers from its HNSW index, so every server's committed enrolments are found
        at once, before this server reloads; if the database cannot be read, this server's
        snapshot answers."""
        if self.shared:
            with self._finder_lock:
                try:
                    if self._finder is None:
                        self._finder = open_store(
                            self.store_path, self.spec.id, self.spec.output_dim, writer=False
                        )
                    found = self._finder.nearest(vector, k)
                    return [Neighbour(f.person, f.relpath, d, f.box) for f, d in found]
                except StoreError:
                    log.warning(
                        "the shared gallery's index cannot be read; answering from memory",
                        exc_info=True,
                    )
                    if self._finder is not None:
                        self._finder.close()
                    self._finder = None
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

    def recognize(self, vectors: Embeddings) -> tuple[list[tuple[Match, str]], Trained]:
        """Name each embedding with what is current now; also returns the recognizer used."""
        trained, snap = self._trained, self._snapshot
        return name_faces(vectors, trained, snap, self.max_distance()), trained

    # -- changes (each on the writer thread, then the refit is scheduled) ------------------

    def create_person(self, person: str) -> bool:
        """Make the person's folder; False when it exists already."""

        def job() -> bool:
            folder = self.dataset / person
            if person in self._snapshot.people:
                return False
            _no_file_there(folder)
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
            _no_file_there(self.dataset / person)
            record = enrol_photo(self._store, self.dataset, person, data, suffix, image, found)
            self._note_own_write()
            gen = self._snapshot.generation + 1
            added = [Face(relpath, person, record.box, record.score, True, gen)]
            vectors = [np.asarray(record.embedding, np.float32)]
            for o in record.others:
                added.append(Face(relpath, person, o.box, o.score, False, gen))
                vectors.append(np.asarray(o.embedding, np.float32))
            snap = self._snapshot
            self._snapshot = Snapshot(
                snap.faces + tuple(added),
                np.concatenate([snap.vectors, np.stack(vectors)]),
                snap.people | {person},
                gen,
            )
            self._schedule_refit()
            return Enrolled(added[0], True)

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
            _no_file_there(self.dataset / new)
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
            gen = snap.generation + 1
            faces = tuple(
                replace(f, person=new, relpath=f"{new}/{f.id}", generation=gen)
                if f.person == old
                else f
                for f in snap.faces
            )
            self._snapshot = Snapshot(faces, snap.vectors, (snap.people - {old}) | {new}, gen)
            self._schedule_refit()
            return "ok"

        return self._in_writer(job)

    def _replace_faces(self, keep: Callable[[Face], bool], drop: str | None = None) -> None:
        snap = self._snapshot
        rows = [i for i, f in enumerate(snap.faces) if keep(f)]
        people = snap.people - {drop} if drop is not None else snap.people
        self._snapshot = Snapshot(
            tuple(snap.faces[i] for i in rows), snap.vectors[rows], people, snap.generation + 1
        )
        self._schedule_refit()

    # -- refitting ---------------------------------------------------------------------------

    def _schedule_refit(self) -> None:
        with self._changed:
            self._due = time.monotonic() + self.debounce
            self._changed.notify_all()

    def _refit_loop(self) -> None:
        """Wait for a change, then for `debounce` quiet seconds, then refit and swap in."""
        while True:
            with self._changed:
                while not self._stopping and (self._due is None or time.monotonic() < self._due):
                    wait = None if self._due is None else max(0.0, self._due - time.monotonic())
                    self._changed.wait(wait)
                if self._stopping:
                    return
                self._due = None
            try:
                self._refit(self._snapshot)
            except Exception:  # keep serving with the recognizer in use; say why
                log.exception("refitting the recognizer failed; answering with the previous one")

    def _refit(self, snap: Snapshot) -> None:
        main = [i for i, f in enumerate(snap.faces) if f.main]
        if not main:
            self._trained = Trained(None, "none", snap.generation)
            return
        order = sorted(main, key=lambda i: snap.faces[i].relpath)  # train-model's order
        names = [snap.faces[i].person for i in order]
        classifier = fit_classifier(
            snap.vectors[order],
            names,
            self.spec.max_distance,
            self.spec.min_probability,
            self.spec.id,
            far=self.spec.far,
            rule=self.spec.rule,
        )
        classifier.detector_id = self.detector_id
        classifier.save(self.model_path)
        self._trained = Trained(
            classifier, file_version(self.model_path), snap.generation, frozenset(names)
        )
        self._refits += 1
        log.info(
            "recognizer %s: %d faces of %d people",
            self._trained.version,
            len(names),
            len(set(names)),
        )

    def wait_until_trained(self, timeout: float = 60.0) -> bool:
        """Block until the recognizer covers the current snapshot (tests, shutdown)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.up_to_date():
                return True
            time.sleep(0.05)
        return self.up_to_date()


def _trained_on(classifier: IdentityClassifier | None, names: list[str], vectors: Any) -> bool:
    """Whether the classifier was fitted on exactly these (name, embedding) rows."""
    if classifier is None or classifier.gallery.shape != np.shape(vectors):
        return False
    classes = classifier.classes_
    labels = [classes[int(k)] for k in classifier.gallery_labels]
    return labels == list(names) and bool(np.array_equal(classifier.gallery, vectors))


def _listed(name: str) -> bool:
    return not name.startswith(".")


def _empty_report() -> ExtractReport:
    return ExtractReport(
        images=0,
        embedded=0,
        unchanged=0,
        removed=0,
        skipped=(),
        people={},
        faces_seen=0,
        multi_face_images=0,
        people_without_faces=(),
        suspects=(),
    )
