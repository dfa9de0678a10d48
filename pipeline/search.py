"""find: the enrolled faces nearest to a query face, with the images they came from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.stores.sqlite import StoredFace
from pipeline.types import BOX, Embeddings
from pipeline.vectors import pairwise_distances


@dataclass(frozen=True, slots=True)
class Neighbour:
    """An enrolled face near the query: who, from which image (relative to the dataset), and
    how far (Euclidean distance between unit embeddings, 0-2)."""

    person: str
    path: str
    distance: float
    box: list[float] | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "path": self.path,
            "distance": round(self.distance, 4),
            "box": self.box,
        }

    def row(self, rank: int) -> dict[str, Any]:
        """The flat record of find --format jsonl|csv (types.NEIGHBOUR_ROW)."""
        box = dict(zip(BOX, self.box, strict=True)) if self.box else {}
        return {
            "rank": rank,
            "person": self.person,
            "path": self.path,
            "distance": round(self.distance, 4),
            **box,
        }


def nearest(query: Embeddings, gallery: Sequence[StoredFace], k: int = 5) -> list[Neighbour]:
    """The k stored faces nearest to one query embedding, nearest first."""
    if not gallery:
        return []
    matrix = np.stack([g.embedding for g in gallery])
    d = pairwise_distances(np.asarray(query, np.float32).reshape(1, -1), matrix)[0]
    order = np.argsort(d, kind="stable")[:k]
    return [
        Neighbour(gallery[i].person, gallery[i].relpath, float(d[i]), gallery[i].box) for i in order
    ]
