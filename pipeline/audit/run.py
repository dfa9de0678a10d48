"""audit_dataset: bring the store in step with the dataset (only new or changed photos are
embedded), then run every check on what it holds. Only two checks read pictures again: the
duplicate check, for pairs whose embeddings are nearly equal, and the main-face check, for
group photos whose kept face is far from its person."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.audit import checks
from pipeline.audit.checks import Gallery, Limits, Nearness
from pipeline.audit.findings import KINDS, SOMEONE_ELSE, WRONG_MAIN_FACE, AuditReport, Finding
from pipeline.core import FaceRecognizer
from pipeline.errors import ImageError
from pipeline.extract import extract_embeddings
from pipeline.imageio import dataset_path, read_grey_thumbnail, read_image
from pipeline.registry import ModelSpec
from pipeline.stores.records import Store
from pipeline.vectors import pairwise_distances

Progress = Callable[[Iterable[Any], int], Iterable[Any]]

# Measured by bench/audit_quality.py on the LFW dev gallery (limits chosen on two folds'
# people, the same on the third): frontal faces shrunk to a 20 px box (its shorter side) are
# still named right 95% of the time, at 16 px 77% (and 15% are not found). Turned faces cost
# nothing measurable up to 0.7 eye distances (37 faces from 0.35 to 0.7, all named right);
# LFW has none further, so only faces turned past what was measured are flagged.
MIN_FACE = 20.0
MAX_TURN = 0.7
# Measured the same way, on 300 frontal faces blurred or darkened step by step: scanning down
# from the sharpest (brightest), the first 100 faces named right under 90% of the time start
# at these (facequality.py's measures; chosen on all folds; on two folds' people
# 0.036-0.039 and 10-14, and the third fold's faces below them were named right 36-38% and
# 54-76%). Faces embedded before the store kept their quality are not judged until embedded
# again.
MIN_SHARPNESS = 0.035
MIN_BRIGHTNESS = 12.7
# Grey 32x32 thumbnails of a photo and its resized or re-encoded copy correlate 0.994 or more
# (60 LFW photos at 0.5, 0.75 and 1.5 times, JPEG quality 85); of the 40 same-person pairs
# nearest in embedding in the LFW dev gallery, the two most alike different photos 0.903
# (one photo in two colour gradings: 0.994, a duplicate indeed). bench/audit.py: no clean
# photo of 2,199 flagged.
SAME_PICTURE = 0.985


def limits_for(spec: ModelSpec) -> Limits:
    """The audit's thresholds for an embedder (registry data; the image ones are constants)."""
    return Limits(
        own=spec.audit_own or spec.max_distance,
        other=spec.audit_other or spec.max_distance,
        margin=spec.audit_margin,
        alone=spec.audit_alone or spec.audit_other or spec.max_distance,
        near_copy=spec.copy_distance or spec.max_distance - 0.1,
        same_picture=SAME_PICTURE,
        alike=spec.max_distance,
        spread_cut=spec.cluster_distance,
        min_face=MIN_FACE,
        max_turn=MAX_TURN,
        min_sharpness=MIN_SHARPNESS,
        min_brightness=MIN_BRIGHTNESS,
    )


def audit_dataset(
    dataset: str | os.PathLike[str],
    store: Store,
    recognizer: FaceRecognizer,
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> AuditReport:
    """Audit a folder-per-person dataset through its gallery store.

    Raises:
        FaceRecError: the dataset or the store cannot be used (as extract-embeddings).
    """
    root = dataset_path(dataset)
    extract = extract_embeddings(root, store, recognizer, progress)
    return audit_store(root, store, recognizer, limits, extract.to_dict())


def audit_store(
    root: Path,
    store: Store,
    recognizer: FaceRecognizer,
    limits: Limits | None = None,
    extract: dict[str, Any] | None = None,
) -> AuditReport:
    """Audit what a store holds of the dataset at `root`, as it is (a running server's
    gallery, which keeps it in step itself): reads the store, writes nothing."""
    spec = recognizer.embedder.spec
    limits = limits or limits_for(spec)
    gallery = load_gallery(store)
    skipped: list[str] = []
    report_args = (str(root), len(gallery.relpaths), len(set(gallery.people)))
    if not gallery.relpaths:
        return AuditReport(*report_args, (), limits.to_dict(), extract or {})
    near = checks.nearness(gallery, spec.rule)
    found = checks.someone_else(gallery, near, limits)
    found = _main_faces(root, gallery, near, limits, recognizer, found, skipped)
    suspects = {f.photos[0] for f in found}
    stored = {p: f.thumbnail for p, f in zip(gallery.relpaths, gallery.facts, strict=True)}
    thumbs = _Thumbnails(root, skipped, stored)
    findings = [
        *found,
        *checks.duplicates(gallery, limits, thumbs.get, suspects),
        *checks.poor_faces(gallery, limits),
        *checks.alike_people(gallery, spec.rule, limits, suspects),
        *checks.spread_people(gallery, limits),
    ]
    order = {k: n for n, k in enumerate(KINDS)}
    findings.sort(key=lambda f: order[f.kind])
    return AuditReport(
        *report_args, tuple(findings), limits.to_dict(), extract or {}, tuple(sorted(skipped))
    )


def load_gallery(store: Store) -> Gallery:
    """Every embedded photo's main face, with its facts, in path order."""
    facts = store.image_facts()
    known = store.known()
    faces = [f for f in store.records() if f.face == 0 and f.relpath in facts]
    dim = faces[0].embedding.shape[0] if faces else 1
    return Gallery(
        [f.relpath for f in faces],
        [f.person for f in faces],
        np.stack([f.embedding for f in faces]).astype(np.float32)
        if faces
        else np.zeros((0, dim), np.float32),
        [f.box for f in faces],
        [facts[f.relpath] for f in faces],
        [int(known[f.relpath][1]) if f.relpath in known else 0 for f in faces],
        [int(known[f.relpath][2]) if f.relpath in known else 0 for f in faces],
    )


class _Thumbnails:
    """Grey thumbnails as unit vectors (zero mean): the one the store kept when the photo was
    embedded, else the photo read once (embedded before thumbnails were kept); None when
    unreadable."""

    def __init__(self, root: Path, skipped: list[str], stored: dict[str, str | None]) -> None:
        self.root, self.skipped, self.stored = root, skipped, stored
        self.cache: dict[str, NDArray[np.float32] | None] = {}

    def get(self, relpath: str) -> NDArray[np.float32] | None:
        if relpath not in self.cache:
            self.cache[relpath] = self._read(relpath)
        return self.cache[relpath]

    def _read(self, relpath: str) -> NDArray[np.float32] | None:
        kept = self.stored.get(relpath)
        try:
            pixels = (
                np.frombuffer(bytes.fromhex(kept), np.uint8)
                if kept
                else read_grey_thumbnail(self.root / relpath).ravel()
            )
        except (ImageError, ValueError):
            self.skipped.append(relpath)
            return None
        t = pixels.astype(np.float32)
        t -= t.mean()
        norm = float(np.linalg.norm(t))
        return t / norm if norm > 1e-6 else None


def _main_faces(
    root: Path,
    gallery: Gallery,
    near: Nearness,
    limits: Limits,
    recognizer: FaceRecognizer,
    found: list[Finding],
    skipped: list[str],
) -> list[Finding]:
    """For group photos whose kept face is far from its person, look at the other faces: when
    one of them is the person, the finding is the wrong main face, not someone else."""
    _, pid = gallery.person_ids()
    out = {f.photos[0]: f for f in found}
    for i in checks.main_face_far(near, limits, gallery.facts):
        relpath = gallery.relpaths[i]
        try:
            image = read_image(root / relpath)
        except ImageError:
            skipped.append(relpath)
            continue
        [faces] = recognizer.embed_images([image], every_face=True)
        if faces.error is not None or len(faces.detections) < 2:
            continue
        mine = (pid == pid[i]) & (np.arange(len(pid)) != i)
        if not mine.any():
            continue
        d = pairwise_distances(faces.embeddings, gallery.vectors[mine]).min(axis=1)
        k = int(d.argmin())
        if d[k] <= limits.own and d[k] + limits.margin <= near.own[i]:
            box = [round(float(v)) for v in faces.detections[k].box]
            out[relpath] = Finding(
                WRONG_MAIN_FACE,
                gallery.people[i],
                (relpath,),
                min(1.0, (float(near.own[i]) - float(d[k])) / 0.5),
                f"the face at {box} is {gallery.people[i]} (d={d[k]:.2f}); the one kept is not "
                f"(d={near.own[i]:.2f})",
                {"box": box, "kept_distance": round(float(near.own[i]), 4)},
                (relpath,),
            )
    return sorted(out.values(), key=lambda f: (f.kind != SOMEONE_ELSE, -f.sureness))
