"""Photo libraries: every face of every photo grouped into people, with group ids that stay.

`group_library` embeds a photo folder into its own store (every face, incrementally, as
`extract-embeddings --all-faces` does), then groups the faces. A first run clusters them all
(cluster.py). Later runs keep every grouped face where it is: a new face joins the group whose
unit mean vector is nearest, within the cut, and the faces left over (new ones and old
singletons) are clustered among themselves into new groups. So adding photos never renames or
reshuffles a group; `recluster` starts over and maps the new groups onto the old ids by
overlap, reporting merges and splits.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.core import FaceRecognizer
from pipeline.enrol import crop_around, enrol_photo, png_bytes
from pipeline.errors import FaceRecError, ImageError
from pipeline.extract import extract_embeddings
from pipeline.imageio import read_image, scan_library
from pipeline.library.cluster import SINGLETON, cluster_vectors
from pipeline.library.strangers import SIGHTINGS
from pipeline.stores.records import FaceKey, Store, StoredFace
from pipeline.types import Embeddings, ExtractReport, face_id
from pipeline.vectors import pairwise_distances, unit_rows

REMOVED = -2  # a face taken out of its group by hand: never grouped again


@dataclass(frozen=True, slots=True)
class Group:
    """One proposed person: their faces, largest first, and how tight the group is (the mean
    distance of its faces to its unit mean vector)."""

    id: int
    faces: tuple[StoredFace, ...]
    spread: float
    name: str | None = None

    def seen(self) -> tuple[str, str] | None:
        """The first and last modification times of its photos."""
        times = sorted(f.mtime_ns for f in self.faces if f.mtime_ns)
        if not times:
            return None
        return _when(times[0]), _when(times[-1])

    def when(self, sightings: bool) -> str:
        """For the report: "seen 2026-12-03 07:14 to 2026-12-05 18:02" in a folder of kept
        strangers (its file times are sightings); "file times ..." in other photo folders,
        where they tell when files were copied as much as when photos were taken."""
        span = self.seen()
        if span is None:
            return ""
        first, last = (t[:16].replace("T", " ") for t in span)
        times = first if first == last else f"{first} to {last}"
        return f"seen {times}" if sightings else f"file times {times}"

    def to_dict(self, root: Path | None = None, sightings: bool = False) -> dict[str, Any]:
        span = self.seen()
        first, last = span if span else (None, None)
        times = (
            {"first_seen": first, "last_seen": last}
            if sightings
            else {"first_file_time": first, "last_file_time": last}
        )
        return {
            "id": self.id,
            "name": self.name,
            "faces": len(self.faces),
            "photos": len({f.relpath for f in self.faces}),
            "spread": round(self.spread, 4),
            **times,
            "members": [face_json(f, root) for f in self.faces],
        }


def _when(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9).astimezone().isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Changes:
    """What a run did to the groups."""

    created: tuple[int, ...] = ()
    grew: dict[int, int] = field(default_factory=dict)  # id -> faces added
    merged: dict[int, tuple[int, ...]] = field(default_factory=dict)  # kept id -> ids merged in
    split: dict[int, tuple[int, ...]] = field(default_factory=dict)  # old id -> new ids
    gone: tuple[int, ...] = ()  # groups whose photos are all gone

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": list(self.created),
            "grew": {str(k): v for k, v in self.grew.items()},
            "merged": {str(k): list(v) for k, v in self.merged.items()},
            "split": {str(k): list(v) for k, v in self.split.items()},
            "gone": list(self.gone),
        }


@dataclass(frozen=True, slots=True)
class Library:
    """The grouped library: groups (largest first), faces in no group, and what changed."""

    root: Path
    groups: tuple[Group, ...]
    singletons: tuple[StoredFace, ...]
    changes: Changes
    extract: ExtractReport | None = None

    def group(self, gid: int) -> Group | None:
        return next((g for g in self.groups if g.id == gid), None)

    @property
    def sightings(self) -> bool:
        """Whether its photos' times are sightings (a folder of --keep-unknown crops)."""
        return (self.root / SIGHTINGS).is_file()

    def to_dict(self) -> dict[str, Any]:
        return {
            "photos": str(self.root),
            "faces": sum(len(g.faces) for g in self.groups) + len(self.singletons),
            "groups": [g.to_dict(self.root, self.sightings) for g in self.groups],
            "singletons": [face_json(f, self.root) for f in self.singletons],
            "changes": self.changes.to_dict(),
        }


def face_key(face: StoredFace) -> FaceKey:
    return (face.relpath, face.face)


def face_json(face: StoredFace, root: Path | None = None) -> dict[str, Any]:
    path = str(root / face.relpath) if root is not None else face.relpath
    return {"id": face_id(face.relpath, face.face), "path": path, "box": face.box}


def assign(
    faces: Sequence[StoredFace],
    vectors: Embeddings,
    previous: dict[FaceKey, int],
    cut: float,
    method: str,
    recluster: bool = False,
) -> tuple[dict[FaceKey, int], Changes]:
    """Group ids for every face (SINGLETON for none, REMOVED kept as it was) and the changes.

    Incremental unless `recluster` or nothing was grouped before (see the module's doc)."""
    keys = [face_key(f) for f in faces]
    old = {k: previous[k] for k in keys if k in previous}
    next_id = max([*previous.values(), 0]) + 1
    gone = tuple(sorted({g for g in previous.values() if g >= 0} - set(old.values())))
    removed = {k for k, g in old.items() if g == REMOVED}
    grouped = {k: g for k, g in old.items() if g >= 0}
    if recluster or not grouped:
        return _recluster(keys, vectors, grouped, removed, cut, method, next_id, gone)
    out = dict(grouped) | dict.fromkeys(removed, REMOVED)
    free = [i for i, k in enumerate(keys) if k not in out]
    grew: Counter[int] = Counter()
    if free:
        ids = sorted(set(grouped.values()))
        rows = defaultdict(list)
        for i, k in enumerate(keys):
            if k in grouped:
                rows[grouped[k]].append(i)
        centres = unit_rows(np.stack([vectors[rows[g]].sum(axis=0) for g in ids]))
        d = pairwise_distances(vectors[free], centres)
        left = []
        for row, i in zip(d, free, strict=True):
            j = int(row.argmin())
            if row[j] <= cut:
                out[keys[i]] = ids[j]
                grew[ids[j]] += 1
            else:
                left.append(i)
        labels = cluster_vectors(vectors[left], cut, method) if left else np.zeros(0, np.int64)
        created: dict[int, int] = {}
        for i, label in zip(left, labels.tolist(), strict=True):
            if label == SINGLETON:
                out[keys[i]] = SINGLETON
            else:
                out[keys[i]] = created.setdefault(label, next_id + len(created))
        return out, Changes(tuple(created.values()), dict(grew), gone=gone)
    return out, Changes(gone=gone)


def _recluster(
    keys: list[FaceKey],
    vectors: Embeddings,
    grouped: dict[FaceKey, int],
    removed: set[FaceKey],
    cut: float,
    method: str,
    next_id: int,
    gone: tuple[int, ...],
) -> tuple[dict[FaceKey, int], Changes]:
    """Cluster every face afresh; a new group takes the old id most of its faces had, when it
    holds the largest share of that old group; otherwise it gets a new id."""
    idx = [i for i, k in enumerate(keys) if k not in removed]
    labels = cluster_vectors(vectors[idx], cut, method) if idx else np.zeros(0, np.int64)
    members: dict[int, list[FaceKey]] = defaultdict(list)
    for i, label in zip(idx, labels.tolist(), strict=True):
        if label != SINGLETON:
            members[label].append(keys[i])
    # for each old id, the new group holding most of its faces
    holder: dict[int, tuple[int, int]] = {}
    for label, ks in members.items():
        for old_id, n in Counter(grouped[k] for k in ks if k in grouped).items():
            if n > holder.get(old_id, (-1, 0))[1]:
                holder[old_id] = (label, n)
    out: dict[FaceKey, int] = dict.fromkeys(removed, REMOVED)
    out |= {keys[i]: SINGLETON for i in idx}
    new_ids: dict[int, int] = {}
    created: list[int] = []
    merged: dict[int, tuple[int, ...]] = {}
    split: defaultdict[int, list[int]] = defaultdict(list)
    for label in sorted(members, key=lambda lb: -len(members[lb])):
        olds = Counter(grouped[k] for k in members[label] if k in grouped)
        mine = [o for o, _ in olds.most_common() if holder.get(o, (None,))[0] == label]
        if mine:
            gid = mine[0]
            if len(mine) > 1:
                merged[gid] = tuple(mine[1:])
        else:
            gid = next_id + len(created)
            created.append(gid)
        new_ids[label] = gid
        for k in members[label]:
            out[k] = gid
    folded = {o for merged_in in merged.values() for o in merged_in}
    for label, ks in members.items():
        for old_id in {grouped[k] for k in ks if k in grouped} - folded:
            if new_ids[label] != old_id:
                split[old_id].append(new_ids[label])
    split_final = {o: tuple(sorted(set(v))) for o, v in split.items()}
    return out, Changes(tuple(created), {}, merged, split_final, gone)


def build(
    faces: Sequence[StoredFace],
    vectors: Embeddings,
    assignment: dict[FaceKey, int],
    names: dict[int, str],
    root: Path,
    changes: Changes,
    extract: ExtractReport | None = None,
) -> Library:
    """The Library view of an assignment: groups largest first, faces largest first."""
    by_group: dict[int, list[int]] = defaultdict(list)
    lone: list[int] = []
    for i, f in enumerate(faces):
        g = assignment.get(face_key(f), SINGLETON)
        (by_group[g] if g >= 0 else lone).append(i)
    groups = []
    for gid, rows in by_group.items():
        centre = unit_rows(vectors[rows].sum(axis=0, keepdims=True))
        spread = float(pairwise_distances(vectors[rows], centre).mean())
        order = sorted(rows, key=lambda i: -_area(faces[i]))
        groups.append(Group(gid, tuple(faces[i] for i in order), spread, names.get(gid)))
    groups.sort(key=lambda g: (-len(g.faces), g.id))
    singles = tuple(faces[i] for i in sorted(lone, key=lambda i: -_area(faces[i])))
    return Library(root, tuple(groups), singles, changes, extract)


def _area(face: StoredFace) -> float:
    if not face.box:
        return 0.0
    x1, y1, x2, y2 = face.box
    return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def group_library(
    photos: str | os.PathLike[str],
    store: Store,
    recognizer: FaceRecognizer,
    cut: float,
    method: str,
    recluster: bool = False,
    progress: Callable[[Iterable[Any], int], Iterable[Any]] | None = None,
) -> Library:
    """Embed the library's new photos, group every face, save the groups; see the module."""
    report = extract_embeddings(photos, store, recognizer, progress, scan=scan_library)
    faces, vectors = _stored(store)
    previous, names = store.groups()
    assignment, changes = assign(faces, vectors, previous, cut, method, recluster)
    kept = set(assignment.values())
    names = {g: n for g, n in names.items() if g in kept}
    store.save_groups(assignment, names)
    return build(faces, vectors, assignment, names, Path(photos), changes, report)


def _stored(store: Store) -> tuple[list[StoredFace], Embeddings]:
    """Every face of the store and its (N, D) embeddings."""
    faces = store.records()
    if not faces:
        return [], np.zeros((0, store.dim), np.float32)
    return faces, np.stack([f.embedding for f in faces]).astype(np.float32)


def load_library(photos: str | os.PathLike[str], store: Store) -> Library:
    """The library as last grouped, without embedding or grouping anything."""
    faces, vectors = _stored(store)
    assignment, names = store.groups()
    return build(faces, vectors, assignment, names, Path(photos), Changes())


def edit_groups(
    store: Store, merges: Sequence[Sequence[int]] = (), removals: Sequence[str] = ()
) -> None:
    """Merge groups (each list: the first keeps its id, the others join it) and take faces out
    of their groups for good (ids as face_id gives them, `photo#face`).

    Raises:
        FaceRecError: an unknown group or face.
    """
    assignment, names = store.groups()
    known = set(assignment.values())
    for ids in merges:
        keep, *others = ids
        for gid in ids:
            if gid not in known or gid < 0:
                raise FaceRecError(f"no group {gid} (see the ids in index.html or --json)")
        for key, gid in list(assignment.items()):
            if gid in others:
                assignment[key] = keep
        for gid in others:
            names.pop(gid, None)
    for text in removals:
        path, _, face = text.rpartition("#")
        removed = (path, int(face)) if face.isdigit() else None
        if removed is None or removed not in assignment:
            raise FaceRecError(f"no face {text!r} (ids look like photo.jpg#0; see --json)")
        assignment[removed] = REMOVED
    store.save_groups(assignment, names)


def name_group(
    library: Library,
    store: Store,
    gid: int,
    name: str,
    recognizer: FaceRecognizer,
    gallery: Store,
    dataset: Path,
) -> int:
    """Enrol a group's faces as `name`: a crop around each face into `<dataset>/<name>/` and
    its row into the gallery store, as the server's enrolments do; the group keeps the name.
    Returns how many faces were enrolled (a face the detector no longer finds in its crop is
    passed over).

    Raises:
        FaceRecError: no such group.
    """
    group = library.group(gid)
    if group is None:
        raise FaceRecError(f"no group {gid} (see the ids in index.html or --json)")
    enrolled = 0
    for face in group.faces:
        if not face.box:
            continue
        try:
            image = read_image(library.root / face.relpath)
        except ImageError:
            continue
        crop = crop_around(image, np.asarray(face.box, np.float32))
        [found] = recognizer.embed_images([crop], every_face=gallery.all_faces)
        if found.error is not None or not found.detections:
            continue
        enrol_photo(gallery, dataset, name, png_bytes(crop), ".png", crop, found)
        enrolled += 1
    assignment, names = store.groups()
    store.save_groups(assignment, names | {gid: name})
    return enrolled
