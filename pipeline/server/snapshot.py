"""What a running server's gallery is at one moment, and how it names faces from it.

A Snapshot (the enrolled faces and their vectors) and a Trained recognizer are immutable and
replaced as wholes; a LiveDecider pairs the two for one request, so a request never sees half
a change. It is the core's Decider for the server (FaceRecognizer.recognize(decider=...)).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from pipeline.classify import IdentityClassifier
from pipeline.files import read_file
from pipeline.types import BY_NEAREST, Embeddings, Match, face_id
from pipeline.vectors import pairwise_distances


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
        return face_id(self.relpath, person=self.person)


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

    @classmethod
    def of(
        cls, records: Sequence[Any], folders: Iterable[str], dim: int, generation: int
    ) -> Snapshot:
        """A snapshot of a store's records (StoredFace) and the dataset's person folders."""
        faces = tuple(
            Face(r.relpath, r.person, r.box, r.score, r.face == 0, generation) for r in records
        )
        vectors = (
            np.stack([r.embedding for r in records]).astype(np.float32)
            if records
            else np.zeros((0, dim), np.float32)
        )
        people = frozenset(set(folders) | {f.person for f in faces})
        return cls(faces, vectors, people, generation)

    def with_photo(self, person: str, relpath: str, faces: Sequence[Any]) -> Snapshot:
        """One more enrolled photo: `faces` (box, score, embedding; the main face first)."""
        gen = self.generation + 1
        added = tuple(
            Face(relpath, person, f.box, f.score, i == 0, gen) for i, f in enumerate(faces)
        )
        vectors = np.stack([np.asarray(f.embedding, np.float32) for f in faces])
        return Snapshot(
            self.faces + added,
            np.concatenate([self.vectors, vectors]),
            self.people | {person},
            gen,
        )

    def keeping(self, keep: Callable[[Face], bool], drop: str | None = None) -> Snapshot:
        """Only the faces `keep` accepts; `drop` a person's name too."""
        rows = [i for i, f in enumerate(self.faces) if keep(f)]
        people = self.people - {drop} if drop is not None else self.people
        faces = tuple(self.faces[i] for i in rows)
        return Snapshot(faces, self.vectors[rows], people, self.generation + 1)

    def renamed(self, old: str, new: str) -> Snapshot:
        gen = self.generation + 1
        faces = tuple(
            replace(f, person=new, relpath=f"{new}/{f.id}", generation=gen)
            if f.person == old
            else f
            for f in self.faces
        )
        return Snapshot(faces, self.vectors, (self.people - {old}) | {new}, gen)

    def reloaded(self, fresh: Snapshot) -> Snapshot:
        """`fresh` (read again from a shared store) as the next generation; faces this server
        knew keep their generation, so only the new ones wait for the refit."""
        gen = self.generation + 1
        before = {(f.relpath, f.main): f.generation for f in self.faces}
        faces = tuple(
            replace(f, generation=before.get((f.relpath, f.main), gen)) for f in fresh.faces
        )
        return Snapshot(faces, fresh.vectors, fresh.people | self.people, gen)


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


@dataclass(frozen=True, slots=True)
class LiveDecider:
    """The gallery's answer for one request: a Match per face, from the recognizer, or from
    the nearest enrolled face when the recognizer has not seen it yet (enrolled since the last
    fit), when the recognizer's name is no longer enrolled (deleted, renamed), and when there
    is no recognizer; the nearest face names its person within `max_distance`."""

    trained: Trained
    snap: Snapshot
    max_distance: float

    def predict(self, vectors: Embeddings) -> list[Match]:
        trained, snap = self.trained, self.snap
        if len(vectors) == 0:
            return []
        matches = trained.classifier.predict(vectors) if trained.classifier is not None else None
        if matches is not None and trained.generation == snap.generation:
            return matches
        if not snap.faces:
            return [Match(None, None, float("nan"), None, by=BY_NEAREST) for _ in vectors]
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
                name = face.person if dist <= self.max_distance else None
                out.append(Match(name, None, dist, face.person, by=BY_NEAREST))
            else:
                out.append(m)
        return out


def file_version(path: str | os.PathLike[str]) -> str:
    data, _ = read_file(path, 1 << 30)
    return hashlib.sha256(data).hexdigest()[:12]


def trained_on(classifier: IdentityClassifier | None, names: list[str], vectors: Any) -> bool:
    """Whether the classifier was fitted on exactly these (name, embedding) rows."""
    if classifier is None or classifier.gallery.shape != np.shape(vectors):
        return False
    classes = classifier.classes_
    labels = [classes[int(k)] for k in classifier.gallery_labels]
    return labels == list(names) and bool(np.array_equal(classifier.gallery, vectors))
