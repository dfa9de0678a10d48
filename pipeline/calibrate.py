"""Calibrate the unknown threshold (max_distance) from the gallery's own distance distributions.

The embedder's default max_distance was measured on real strangers (README "Accuracy"). When the
enrolled faces themselves offer enough evidence (at least MIN_PAIRS same-person and
different-person pairs), the threshold moves to the middle of the range that best separates
those pairs, but only tighter than the default and by at most MAX_TIGHTEN: a gallery is small
and its photos alike, so it may tighten the default, never loosen it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from . import metrics
from .classify import pairwise_distances
from .types import Embeddings, round_or_none

MIN_PAIRS = 10
MAX_TIGHTEN = 0.1
SOURCE_DEFAULT = "embedder default"
SOURCE_GALLERY = "gallery pairs"
SOURCE_USER = "given by the user"


@dataclass(frozen=True, slots=True)
class Calibration:
    """The chosen max_distance and the distributions it came from."""

    max_distance: float
    source: str
    default: float
    same_pairs: int
    different_pairs: int
    same_max: float | None = None
    different_min: float | None = None
    separating: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        r = round_or_none
        return {
            "max_distance": r(self.max_distance),
            "source": self.source,
            "default": r(self.default),
            "same_pairs": self.same_pairs,
            "different_pairs": self.different_pairs,
            "same_max": r(self.same_max),
            "different_min": r(self.different_min),
            "separating": None if self.separating is None else [r(v) for v in self.separating],
        }


def gallery_pairs(embeddings: Embeddings, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(distances, same) over every pair of enrolled faces."""
    labels = np.asarray(list(names))
    upper = np.triu_indices(len(labels), 1)
    distances = pairwise_distances(embeddings, embeddings)[upper].astype(np.float64)
    return distances, (labels[:, None] == labels[None, :])[upper]


def calibrate_max_distance(
    embeddings: Embeddings, names: Sequence[str], default: float
) -> Calibration:
    """max_distance for this gallery: the default, or tighter when the gallery says so."""
    d, same = gallery_pairs(np.asarray(embeddings, np.float32), names)
    n_same, n_diff = int(same.sum()), int((~same).sum())
    base = Calibration(
        max_distance=default,
        source=SOURCE_DEFAULT,
        default=default,
        same_pairs=n_same,
        different_pairs=n_diff,
        same_max=float(d[same].max()) if n_same else None,
        different_min=float(d[~same].min()) if n_diff else None,
    )
    if n_same < MIN_PAIRS or n_diff < MIN_PAIRS:
        return base
    low, high, _ = metrics.best_threshold_interval(d, same)
    chosen = min(default, max((low + high) / 2, default - MAX_TIGHTEN))
    return replace(base, max_distance=chosen, source=SOURCE_GALLERY, separating=(low, high))
