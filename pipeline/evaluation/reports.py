"""What the evaluations report: 1:1 verification on pairs, 1:K identification by folds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.types import Skip, _round, round_or_none


@dataclass(frozen=True, slots=True)
class MissingPair:
    """A pair that could not be compared (no face, unreadable image); counted as an error."""

    path_a: str
    path_b: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path_a": self.path_a, "path_b": self.path_b, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PairsReport:
    """1:1 verification over a pairs file. Rates are shares in [0, 1]; None when undefined
    (for example AUC when the file holds only one kind of pair). The balanced accuracy is the
    mean of the same-pair and different-pair accuracies: LFW's 50/50 figure for any mix."""

    pairs: int
    same_pairs: int
    different_pairs: int
    missing: tuple[MissingPair, ...]
    threshold: float
    accuracy_at_default: float
    balanced_accuracy_at_default: float | None
    tar_at_default: float | None
    far_at_default: float | None
    accuracy_10fold: float | None
    accuracy_10fold_std: float | None
    threshold_10fold: float | None
    auc: float | None
    tar_at_far_1e_2: float | None
    tar_at_far_1e_3: float | None
    eer: float | None
    embedder: str
    crop: str
    plots: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        r = round_or_none
        return {
            "pairs": self.pairs,
            "same_pairs": self.same_pairs,
            "different_pairs": self.different_pairs,
            "missing": len(self.missing),
            "missing_pairs": [m.to_dict() for m in self.missing],
            "threshold": _round(self.threshold),
            "accuracy_at_default": r(self.accuracy_at_default),
            "balanced_accuracy_at_default": r(self.balanced_accuracy_at_default),
            "tar_at_default": r(self.tar_at_default),
            "far_at_default": r(self.far_at_default),
            "accuracy_10fold": r(self.accuracy_10fold),
            "accuracy_10fold_std": r(self.accuracy_10fold_std),
            "threshold_10fold": r(self.threshold_10fold),
            "auc": r(self.auc),
            "tar_at_far_1e-2": r(self.tar_at_far_1e_2),
            "tar_at_far_1e-3": r(self.tar_at_far_1e_3),
            "eer": r(self.eer),
            "embedder": self.embedder,
            "crop": self.crop,
            "plots": dict(self.plots),
        }


@dataclass(frozen=True, slots=True)
class PersonScore:
    faces: int
    precision: float | None
    recall: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "faces": self.faces,
            "precision": round_or_none(self.precision),
            "recall": _round(self.recall),
        }


@dataclass(frozen=True, slots=True)
class IdentificationReport:
    """1:K identification by K-fold over a folder-per-person dataset (and optional strangers).

    `accuracy` is over every tested face (known faces named right, strangers called unknown);
    `known_accuracy` over known faces only; `unknown_rejected` the share of strangers rejected.
    `rank1` is the share of known faces whose nearest candidate is right, whatever the
    threshold; `dir_at_far_1e_2` the open-set detection-and-identification rate: the share of
    known faces named right when the distance threshold lets 1% of the strangers through.
    """

    faces: int
    known_faces: int
    unknown_faces: int
    folds: int
    accuracy: float
    known_accuracy: float
    unknown_rejected: float | None
    people: dict[str, PersonScore]
    enrolled_only: tuple[str, ...]
    skipped: tuple[Skip, ...]
    fold_max_distance: tuple[float, ...]
    fold_min_probability: tuple[float, ...]
    embedder: str
    crop: str
    errors: tuple[dict[str, str], ...] = ()
    plots: dict[str, str] = field(default_factory=dict)
    mode: str = ""
    rank1: float | None = None
    dir_at_far_1e_2: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "faces": self.faces,
            "known_faces": self.known_faces,
            "unknown_faces": self.unknown_faces,
            "folds": self.folds,
            "accuracy": _round(self.accuracy),
            "known_accuracy": _round(self.known_accuracy),
            "unknown_rejected": round_or_none(self.unknown_rejected),
            "rank1": round_or_none(self.rank1),
            "dir_at_far_1e-2": round_or_none(self.dir_at_far_1e_2),
            "mode": self.mode,
            "people": {name: s.to_dict() for name, s in self.people.items()},
            "enrolled_only": list(self.enrolled_only),
            "skipped": [s.to_dict() for s in self.skipped],
            "errors": list(self.errors),
            "fold_max_distance": [_round(v) for v in self.fold_max_distance],
            "fold_min_probability": [_round(v) for v in self.fold_min_probability],
            "embedder": self.embedder,
            "crop": self.crop,
            "plots": dict(self.plots),
        }
