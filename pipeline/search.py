"""Neighbour: an enrolled face found near a query face (find), with the image it came from.
The search itself is the store's (Store.nearest: exact in SQLite, HNSW in PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.types import BOX


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
