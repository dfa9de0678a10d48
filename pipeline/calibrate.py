"""Calibrate the 1:K unknown threshold (max_distance) from the enrolled gallery itself.

A stranger is compared with every enrolled person and the nearest counts, so the more people
enrolled, the nearer a stranger's nearest person comes: one constant cannot serve 6 people and
6,000. The gallery shows how near: each enrolled person, left out in turn, is a stranger to all
the others (leave one person out). The threshold is the distance below which only `far` of
those stand-in strangers fall, so it holds that false-accept rate for this gallery's size. It
never exceeds the embedder's measured default (chosen on real strangers against small
galleries), and needs at least MIN_IMPOSTORS stand-in faces from MIN_PEOPLE people to move.
On the LFW open-set benchmark (221 people, 1,071 faces, 791 strangers; README "Accuracy") the
estimate held: target 3%, measured 2-3% of strangers named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.types import Embeddings, round_or_none
from pipeline.vectors import (
    RULE_CENTRE,
    RULE_CENTRE_OR_NEAREST,
    nearest_per_person,
    pairwise_distances,
    person_sums,
    unit_rows,
)

DEFAULT_FAR = 0.03
MIN_PEOPLE = 3
MIN_IMPOSTORS = 30
# Stand-in strangers are drawn from at most this many faces, so a gallery of 100,000 faces
# calibrates in seconds (a chunked product with the people's centres).
MAX_PROBES = 5000
_CHUNK = 1024
# A stand-in stranger this near another person is the same picture filed under two people
# (a copy embeds within 0.001; two photos of one person 0.3 apart at the nearest on the LFW
# dev gallery): a mistake in the dataset, not a stranger. Left out, or a few such copies pull
# max_distance to 0 and nobody is named (bench/audit.py: 42 copies among 2,199 photos).
SAME_PICTURE = 0.05
SOURCE_DEFAULT = "embedder default"
SOURCE_GALLERY = "gallery, leave one person out"
SOURCE_USER = "given by the user"


@dataclass(frozen=True, slots=True)
class Calibration:
    """The chosen max_distance and the evidence behind it.

    `impostors` stand-in strangers (enrolled faces against everyone else), of which
    `far_estimate` fall within max_distance; `genuine` enrolled faces compared with the rest of
    their own person's faces, of which `known_estimate` do. Both estimates are None for a
    gallery too small to make them (fewer than MIN_PEOPLE people or MIN_IMPOSTORS faces).
    """

    max_distance: float
    source: str
    default: float
    far_target: float
    people: int
    impostors: int = 0
    genuine: int = 0
    far_estimate: float | None = None
    known_estimate: float | None = None
    same_picture: int = 0  # stand-in strangers left out: the same picture under two people

    def to_dict(self) -> dict[str, Any]:
        r = round_or_none
        return {
            "max_distance": r(self.max_distance),
            "source": self.source,
            "default": r(self.default),
            "far_target": self.far_target,
            "people": self.people,
            "impostors": self.impostors,
            "genuine": self.genuine,
            "far_estimate": r(self.far_estimate),
            "known_estimate": r(self.known_estimate),
            "same_picture": self.same_picture,
        }


def leave_one_out_scores(
    embeddings: Embeddings,
    labels: NDArray[np.int64],
    max_probes: int = MAX_PROBES,
    rule: str = RULE_CENTRE,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(impostor, genuine) distances under the 1:K `rule`, each enrolled face left out in turn.

    Impostor: a face's distance to the nearest other person (its own person left out: a
    stranger to this gallery). Genuine: its distance to its own person made without it (people
    with 2 or more faces). At most `max_probes` faces, evenly spaced.
    """
    x = np.asarray(embeddings, np.float32)
    people = int(labels.max()) + 1
    sums = person_sums(x, labels, people)
    counts = np.bincount(labels, minlength=people)
    centres = unit_rows(sums)
    probes = np.unique(np.linspace(0, len(x) - 1, min(len(x), max_probes)).astype(np.int64))
    impostor, genuine = [], []
    for start in range(0, len(probes), _CHUNK):
        part = probes[start : start + _CHUNK]
        rows = np.arange(len(part))
        own = labels[part]
        d = pairwise_distances(x[part], centres).astype(np.float64)
        # its own person's centre made without it
        d[rows, own] = np.linalg.norm(x[part] - unit_rows(sums[own] - x[part]), axis=1)
        if rule == RULE_CENTRE_OR_NEAREST:
            near = nearest_per_person(x[part], x, labels, people, skip=part)
            d = np.minimum(d, near)
        several = counts[own] >= 2
        genuine.append(d[rows[several], own[several]])
        d[rows, own] = np.inf
        impostor.append(d.min(axis=1))
    return np.concatenate(impostor), np.concatenate(genuine)


def calibrate_max_distance(
    embeddings: Embeddings,
    names: Sequence[str],
    default: float,
    far: float = DEFAULT_FAR,
    rule: str = RULE_CENTRE,
) -> Calibration:
    """max_distance for this gallery: the `far` quantile of its stand-in strangers' distances
    (measured by `rule`), at most `default`; the default alone while the gallery is too small
    to say."""
    _, labels = np.unique(np.asarray(list(names)), return_inverse=True)
    labels = labels.astype(np.int64)
    people = int(labels.max()) + 1 if len(labels) else 0
    base = Calibration(default, SOURCE_DEFAULT, default, far, people)
    if people < 2:
        return base
    impostor, genuine = leave_one_out_scores(embeddings, labels, rule=rule)
    copies = int((impostor < SAME_PICTURE).sum())
    impostor = impostor[impostor >= SAME_PICTURE]
    base = replace(base, impostors=len(impostor), genuine=len(genuine), same_picture=copies)
    if people < MIN_PEOPLE or len(impostor) < MIN_IMPOSTORS:
        return base  # too few stand-in strangers to say what share of real ones would pass
    quantile = float(np.quantile(impostor, far))
    if quantile < default:
        base = replace(base, max_distance=quantile, source=SOURCE_GALLERY)
    return replace(
        base,
        far_estimate=float((impostor <= base.max_distance).mean()),
        known_estimate=float((genuine <= base.max_distance).mean()) if len(genuine) else None,
    )
