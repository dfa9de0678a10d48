"""Unit-vector arithmetic shared by the embedders, the classifier and the calibration."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pipeline.types import Embeddings


def unit_rows(vectors: NDArray[np.floating]) -> Embeddings:
    """Rows scaled to length 1, as float32 (a zero row stays zero)."""
    out = np.asarray(vectors, np.float32)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def pairwise_distances(a: Embeddings, b: Embeddings) -> NDArray[np.float32]:
    """Euclidean distances between rows of two unit-vector matrices, via one matrix product."""
    sim = np.clip(a @ b.T, -1.0, 1.0)
    return np.sqrt(np.maximum(2.0 - 2.0 * sim, 0.0)).astype(np.float32)


def person_sums(
    embeddings: Embeddings, labels: NDArray[np.int64], people: int
) -> NDArray[np.float64]:
    """(people, D) sum of each person's embeddings; unit_rows of it gives their centres."""
    sums = np.zeros((people, embeddings.shape[1]), np.float64)
    np.add.at(sums, labels, np.asarray(embeddings, np.float64))
    return sums


RULE_CENTRE = "centre"
RULE_CENTRE_OR_NEAREST = "centre-or-nearest"
RULES = (RULE_CENTRE, RULE_CENTRE_OR_NEAREST)
_CHUNK = 1024


def person_starts(
    labels: NDArray[np.int64], people: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(order, starts): the gallery rows sorted by person, and where each person's rows begin
    in that order; every person must have a row."""
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=people)
    return order, np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)


def nearest_per_person(
    query: Embeddings,
    gallery: Embeddings,
    labels: NDArray[np.int64],
    people: int,
    skip: NDArray[np.int64] | None = None,
) -> NDArray[np.float32]:
    """(N, people): each query's distance to the nearest enrolled face of every person.

    `skip[i]`, when given and >= 0, is a gallery row query i must not be matched with (itself,
    when the queries are gallery faces left out in turn); a person left with no face is at inf.
    Computed by blocks of queries, so memory is a block times the gallery.
    """
    order, starts = person_starts(labels, people)
    if np.all(order[1:] > order[:-1]):  # already grouped by person (a fitted classifier's)
        sorted_gallery = np.asarray(gallery, np.float32)
        position = order
    else:
        sorted_gallery = np.asarray(gallery, np.float32)[order]
        position = np.empty(len(order), np.int64)
        position[order] = np.arange(len(order))
    out = np.empty((len(query), people), np.float32)
    for start in range(0, len(query), _CHUNK):
        part = np.asarray(query[start : start + _CHUNK], np.float32)
        # the nearest face is the most similar one: take the maximum of the dot products per
        # person, and turn only those into distances (half the work of every distance)
        similarity = part @ sorted_gallery.T
        if skip is not None:
            own = skip[start : start + _CHUNK]
            rows = np.flatnonzero(own >= 0)
            similarity[rows, position[own[rows]]] = -np.inf
        best = np.maximum.reduceat(similarity, starts, axis=1)
        near = np.sqrt(np.maximum(2.0 - 2.0 * np.clip(best, -1.0, 1.0), 0.0))
        out[start : start + len(part)] = np.where(np.isneginf(best), np.inf, near)
    return out


def person_distances(
    query: Embeddings,
    centres: Embeddings,
    gallery: Embeddings,
    labels: NDArray[np.int64],
    rule: str,
) -> NDArray[np.float32]:
    """(N, people): how far each query is from each enrolled person under the 1:K `rule`.

    "centre": the distance to the person's centre (the unit mean of their faces), which evens
    out pose and light and suits people with a few similar photos. "centre-or-nearest": the
    nearer of that and the person's nearest enrolled face, so a person photographed over
    decades (whose centre sits between their ages) is still near their own photos. Measured by
    bench/openset.py on both gallery shapes (docs/accuracy.md).
    """
    d = pairwise_distances(np.asarray(query, np.float32), centres)
    if rule == RULE_CENTRE_OR_NEAREST:
        d = np.minimum(d, nearest_per_person(query, gallery, labels, len(centres)))
    elif rule != RULE_CENTRE:
        raise ValueError(f"unknown 1:K rule {rule!r}; choose one of {RULES}")
    return d
