"""The audit's checks on a gallery's embeddings: pure arithmetic, no files. Each photo is
compared with its own person (left out of them) and with everyone else, by the embedder's 1:K
rule, in blocks of rows so memory stays bounded whatever the gallery's size."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipeline.audit.findings import (
    ALIKE,
    DUPLICATE,
    POOR_FACE,
    SOMEONE_ELSE,
    SPREAD,
    TWO_PEOPLE,
    Finding,
)
from pipeline.calibrate import SAME_PICTURE
from pipeline.library.cluster import SINGLETON, cluster_vectors
from pipeline.stores.records import ImageFacts
from pipeline.types import Embeddings
from pipeline.vectors import pairwise_distances, unit_rows

BLOCK = 512  # rows compared at once: 512 x N float32 (10 MB at 5,000 photos)


@dataclass(frozen=True, slots=True)
class Limits:
    """The audit's thresholds (registry.audit_limits gives an embedder's, with where they were
    measured)."""

    own: float  # a photo farther than this from its own person is questioned
    other: float  # ... and is someone else when another person is at most this near
    margin: float  # ... and nearer than its own person by at least this much
    alone: float  # a person's only photo is someone else only this near another person
    near_copy: float  # embeddings closer than this are compared as pictures (duplicates)
    same_picture: float  # grey thumbnails correlating at least this much are one picture
    alike: float  # two people overlap where one's photos come this near the other
    spread_cut: float  # the grouping cut that splits a person's photos into looks
    min_face: float  # a face smaller than this (pixels, shorter box side) is too small
    max_turn: float  # a face turned further than this (nose offset / eye distance) is too turned
    min_sharpness: float  # a face less sharp than this (facequality.py) is too blurred
    min_brightness: float  # a face darker than this (mean grey, 0-255) is too dark

    def to_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self.__slots__}


@dataclass(frozen=True, slots=True)
class Gallery:
    """The main face of every embedded dataset photo, as the store holds them."""

    relpaths: list[str]
    people: list[str]
    vectors: Embeddings
    boxes: list[list[float] | None]
    facts: list[ImageFacts]
    sizes: list[int]  # file sizes and modification times: of two copies, the older is kept
    mtimes: list[int]

    def without(self, relpaths: set[str]) -> Gallery:
        """The gallery less some photos (those found to be someone else)."""
        keep = [i for i, p in enumerate(self.relpaths) if p not in relpaths]
        return Gallery(
            [self.relpaths[i] for i in keep],
            [self.people[i] for i in keep],
            self.vectors[keep],
            [self.boxes[i] for i in keep],
            [self.facts[i] for i in keep],
            [self.sizes[i] for i in keep],
            [self.mtimes[i] for i in keep],
        )

    def person_ids(self) -> tuple[list[str], NDArray[np.int64]]:
        names = sorted(set(self.people))
        index = {n: k for k, n in enumerate(names)}
        return names, np.array([index[p] for p in self.people], np.int64)


@dataclass(frozen=True, slots=True)
class Nearness:
    """Per photo: the distance to its own person (left out) and to the nearest other person."""

    own: NDArray[np.float32]
    other: NDArray[np.float32]
    who: NDArray[np.int64]  # that other person's id


def nearness(gallery: Gallery, rule: str) -> Nearness:
    """Each photo against its own person without it, and against everyone else, by `rule`
    (a person's centre, or the nearer of centre and nearest photo). A copy of the photo in
    its own folder does not count as its person."""
    names, pid = gallery.person_ids()
    vectors = gallery.vectors
    n, k = len(vectors), len(names)
    sums = np.zeros((k, vectors.shape[1]), np.float64)
    np.add.at(sums, pid, vectors)
    counts = np.bincount(pid, minlength=k)
    centres = unit_rows(sums)
    own = np.full(n, np.inf, np.float32)
    other = np.full(n, np.inf, np.float32)
    who = np.full(n, -1, np.int64)
    nearest = rule != "centre"
    for start in range(0, n, BLOCK):
        rows = np.arange(start, min(n, start + BLOCK))
        v = vectors[rows]
        left = sums[pid[rows]] - v  # each person's sum without the photo itself
        alone = counts[pid[rows]] < 2
        own_centre = np.linalg.norm(v - unit_rows(left), axis=1).astype(np.float32)
        own[rows] = np.where(alone, np.inf, own_centre)
        to_centres = pairwise_distances(v, centres)
        to_centres[np.arange(len(rows)), pid[rows]] = np.inf
        best = to_centres.argmin(axis=1)
        other[rows] = to_centres[np.arange(len(rows)), best]
        who[rows] = best
        if nearest:
            d = pairwise_distances(v, vectors)
            d[np.arange(len(rows)), rows] = np.inf
            d[d < SAME_PICTURE] = np.inf  # a copy does not vouch for its twin
            mine = pid[None, :] == pid[rows][:, None]
            own[rows] = np.minimum(own[rows], np.where(mine, d, np.inf).min(axis=1))
            theirs = np.where(mine, np.inf, d)
            j = theirs.argmin(axis=1)
            dj = theirs[np.arange(len(rows)), j]
            closer = dj < other[rows]
            other[rows] = np.where(closer, dj, other[rows])
            who[rows] = np.where(closer, pid[j], who[rows])
    return Nearness(own, other, who)


def someone_else(gallery: Gallery, near: Nearness, limits: Limits) -> list[Finding]:
    """Photos far from their own person and clearly nearer another one, surest first."""
    names, _ = gallery.person_ids()
    out = []
    only = ~np.isfinite(near.own)  # nothing of its own to compare with: a look-alike is not enough
    for i in np.flatnonzero(
        (near.own > limits.own)
        & (near.other <= np.where(only, limits.alone, limits.other))
        & (near.other <= near.own - limits.margin)
    ):
        own, other = float(near.own[i]), float(near.other[i])
        who = names[near.who[i]]
        own_text = "no other photo" if not np.isfinite(own) else f"d={own:.2f}"
        out.append(
            Finding(
                SOMEONE_ELSE,
                gallery.people[i],
                (gallery.relpaths[i],),
                min(1.0, (min(own, 2.0) - other) / 0.5),
                f"looks like {who} (d={other:.2f}), not {gallery.people[i]} ({own_text})",
                {"own_distance": _num(own), "other_distance": round(other, 4)},
                (gallery.relpaths[i],),
                who,
            )
        )
    return sorted(out, key=lambda f: -f.sureness)


def duplicates(
    gallery: Gallery,
    limits: Limits,
    thumbnail: Callable[[str], NDArray[np.float32] | None],
    suspects: set[str],
) -> list[Finding]:
    """The same picture twice: by content hash, or near-identical embeddings whose grey
    thumbnails correlate (a resized or re-encoded copy). Within a folder the older file is
    kept; across people, the copy that is also `suspects` (someone else) is the one to move."""
    n = len(gallery.relpaths)
    pairs: set[tuple[int, int]] = set()
    by_hash: dict[str, list[int]] = defaultdict(list)
    for i, facts in enumerate(gallery.facts):
        by_hash[facts.sha256].append(i)
    exact = {frozenset(g) for g in by_hash.values() if len(g) > 1}
    for g in exact:
        ordered = sorted(g)
        pairs |= {(a, b) for a in ordered for b in ordered if a < b}
    for start in range(0, n, BLOCK):
        rows = np.arange(start, min(n, start + BLOCK))
        d = pairwise_distances(gallery.vectors[rows], gallery.vectors)
        for r, j in zip(*np.nonzero(d < limits.near_copy), strict=True):
            i = int(rows[r])
            if (
                i < j
                and (i, int(j)) not in pairs
                and _same_picture(gallery, i, int(j), thumbnail, limits)
            ):
                pairs.add((i, int(j)))
    return _dup_findings(gallery, _components(pairs), exact, suspects)


def _same_picture(
    gallery: Gallery,
    i: int,
    j: int,
    thumbnail: Callable[[str], NDArray[np.float32] | None],
    limits: Limits,
) -> bool:
    a, b = thumbnail(gallery.relpaths[i]), thumbnail(gallery.relpaths[j])
    return a is not None and b is not None and float(a @ b) >= limits.same_picture


def _components(pairs: set[tuple[int, int]]) -> list[list[int]]:
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        groups[root(x)].append(x)
    return [sorted(g) for g in groups.values()]


def _dup_findings(
    gallery: Gallery, groups: list[list[int]], exact: set[frozenset[int]], suspects: set[str]
) -> list[Finding]:
    out = []
    for group in groups:
        paths = [gallery.relpaths[i] for i in group]
        how = "exact" if frozenset(group) in exact else "near"
        people = sorted({gallery.people[i] for i in group})
        if len(people) > 1:
            flagged = tuple(p for p in paths if p in suspects)
            out.append(
                Finding(
                    TWO_PEOPLE,
                    people[0],
                    tuple(paths),
                    1.0,
                    f"one picture ({how} copy) filed under {', '.join(people)}",
                    {"copy": how},
                    flagged,
                    people[1],
                )
            )
            continue
        # the original is the older file (then the bigger, then the first by name): an
        # upscaled copy is bigger but holds nothing more
        keep = min(group, key=lambda i: (gallery.mtimes[i], -gallery.sizes[i], i))
        copies = tuple(gallery.relpaths[i] for i in group if i != keep)
        out.append(
            Finding(
                DUPLICATE,
                people[0],
                (*copies, gallery.relpaths[keep]),
                1.0 if how == "exact" else 0.9,
                f"{how} copy of {gallery.relpaths[keep]}",
                {"copy": how, "kept": gallery.relpaths[keep]},
                copies,
            )
        )
    return sorted(out, key=lambda f: (f.kind, f.photos))


def poor_faces(gallery: Gallery, limits: Limits) -> list[Finding]:
    """Faces too small or too turned to teach the recognizer, from the stored box and landmarks."""
    out = []
    for i, relpath in enumerate(gallery.relpaths):
        why, worst = [], 0.0
        box = gallery.boxes[i]
        if box is not None:
            side = min(box[2] - box[0], box[3] - box[1])
            if side < limits.min_face:
                why.append(f"face {side:.0f} px (under {limits.min_face:.0f})")
                worst = max(worst, 1 - side / limits.min_face)
        facts = gallery.facts[i]
        turn = turn_of(facts.landmarks)
        if turn is not None and turn > limits.max_turn:
            why.append(f"turned {turn:.2f} (over {limits.max_turn:.2f})")
            worst = max(worst, min(1.0, turn - limits.max_turn))
        if facts.sharpness is not None and facts.sharpness < limits.min_sharpness:
            why.append(
                f"blurred (sharpness {facts.sharpness:.3f}, under {limits.min_sharpness:.3f})"
            )
            worst = max(worst, 1 - facts.sharpness / limits.min_sharpness)
        if facts.brightness is not None and facts.brightness < limits.min_brightness:
            why.append(
                f"dark (brightness {facts.brightness:.0f}, under {limits.min_brightness:.0f})"
            )
            worst = max(worst, 1 - facts.brightness / limits.min_brightness)
        if why:
            out.append(
                Finding(
                    POOR_FACE,
                    gallery.people[i],
                    (relpath,),
                    worst,
                    "; ".join(why),
                    {
                        "turn": _num(turn),
                        "sharpness": facts.sharpness,
                        "brightness": facts.brightness,
                    },
                    (relpath,),
                )
            )
    return sorted(out, key=lambda f: -f.sureness)


def turn_of(landmarks: list[list[float]] | None) -> float | None:
    """How far the face is turned: the nose's offset from the eyes' midpoint, in eye
    distances (0 frontal, about 0.5 in half profile)."""
    if landmarks is None:
        return None
    (lx, _), (rx, _), (nx, _) = landmarks[0], landmarks[1], landmarks[2]
    eyes = abs(rx - lx)
    return abs(nx - (lx + rx) / 2) / eyes if eyes > 1e-6 else None


def alike_people(gallery: Gallery, rule: str, limits: Limits, suspects: set[str]) -> list[Finding]:
    """Pairs of people whose photos come within the gallery's threshold of each other, in the
    gallery less the photos found to be someone else (a misfiled photo makes its two people
    look alike; that is its own finding)."""
    gallery = gallery.without(suspects)
    if not gallery.relpaths:
        return []
    near = nearness(gallery, rule)
    names, pid = gallery.person_ids()
    hits: Counter[tuple[int, int]] = Counter()
    closest: dict[tuple[int, int], float] = {}
    examples: dict[tuple[int, int], list[str]] = defaultdict(list)
    for i in np.flatnonzero(near.other <= limits.alike):
        a, b = int(pid[i]), int(near.who[i])
        key = (min(a, b), max(a, b))
        hits[key] += 1
        closest[key] = min(closest.get(key, 9.0), float(near.other[i]))
        examples[key].append(gallery.relpaths[i])
    out = [
        Finding(
            ALIKE,
            names[a],
            tuple(examples[(a, b)]),
            min(1.0, count / 5),
            f"{count} photo(s) of {names[a]} and {names[b]} within {limits.alike:.2f} of the "
            f"other (closest d={closest[(a, b)]:.2f})",
            {"photos": count, "closest": round(closest[(a, b)], 4)},
            (),
            names[b],
        )
        for (a, b), count in hits.items()
    ]
    return sorted(out, key=lambda f: -f.sureness)


def spread_people(gallery: Gallery, limits: Limits, most: int = 6) -> list[Finding]:
    """People whose photos fall into two or more separate looks (years apart, glasses)."""
    names, pid = gallery.person_ids()
    out = []
    for k, name in enumerate(names):
        rows = np.flatnonzero(pid == k)
        if len(rows) < most:
            continue
        labels = cluster_vectors(gallery.vectors[rows], limits.spread_cut)
        sizes = Counter(int(x) for x in labels if x != SINGLETON)
        big = [lab for lab, c in sizes.most_common() if c >= max(2, 0.15 * len(rows))]
        if len(big) < 2:
            continue
        looks = [[gallery.relpaths[rows[j]] for j in np.flatnonzero(labels == lab)] for lab in big]
        out.append(
            Finding(
                SPREAD,
                name,
                tuple(p for look in looks for p in look[:3]),
                min(1.0, len(big) / 4),
                f"{len(big)} separate looks among {len(rows)} photos ({', '.join(str(len(x)) for x in looks)})",
                {"looks": [len(x) for x in looks], "photos": len(rows)},
            )
        )
    return out


def _num(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)


def main_face_far(near: Nearness, limits: Limits, facts: Sequence[ImageFacts]) -> list[int]:
    """Photos with several faces whose kept face is far from the person: worth a second look
    at the other faces (the caller re-detects them). A person's only photo has nothing to
    look for."""
    return [i for i, f in enumerate(facts) if f.faces > 1 and limits.own < near.own[i] < np.inf]
