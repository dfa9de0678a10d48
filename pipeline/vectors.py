"""Unit-vector arithmetic shared by the embedders, the classifier and the calibration."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .types import Embeddings


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
