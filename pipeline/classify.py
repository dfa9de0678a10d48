"""IdentityClassifier: who is this embedding? A calibrated linear SVM plus a distance check.

- Two or more people: SVC (linear) + LabelEncoder, probabilities from CalibratedClassifierCV
  (mode svm), or the nearest person centre (mode nearest, for large galleries).
- One person: the SVM cannot be trained, so the distance to that person answers, and the
  report says so.
- Either way a face is `unknown` when its distance to the centre of the person picked (the
  unit mean of that person's enrolled embeddings) is above `max_distance`, or the SVM
  probability is below `min_probability`. A centre averages out the pose and light of single
  photos: on the LFW open-set benchmark it named 1-3 points more enrolled faces than the
  nearest single face at the same share of strangers (README "Accuracy").
Saved with skops (no pickle): recognizerfile.py reads back only what it writes.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from numpy.typing import NDArray
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC

from pipeline.errors import (
    DatasetError,
    FaceRecError,
    NotTrainedError,
)
from pipeline.recognizerfile import FORMAT, FORMAT_VERSION, LEGACY_DETECTOR, read_state, write_state
from pipeline.types import Embeddings, Match
from pipeline.vectors import RULE_CENTRE, RULES, person_distances, person_sums, unit_rows

log = logging.getLogger(__name__)

MODE_SVM = "svm"
MODE_DISTANCE = "distance"
MODE_NEAREST = "nearest"
METHODS = ("auto", MODE_SVM, MODE_NEAREST)
# "auto" trains the SVM up to this many people and names by the nearest centre above it: the
# one-vs-one SVM fits people^2/2 binary machines, while the matcher is one matrix product.
NEAREST_ABOVE_PEOPLE = 200
# The SVM's answer gives way to the nearest person centre when that centre is nearer than the
# SVM's person's centre by more than this (see _side_with_gallery).
NEAREST_MARGIN = 0.1
_MIN_IMAGES_FOR_CV = 3


class IdentityClassifier:
    """sklearn-style: __init__ stores parameters, fit() learns, predict() answers Matches."""

    def __init__(
        self,
        max_distance: float,
        min_probability: float,
        C: float = 1.0,
        embedder_id: str = "",
        method: str = "auto",
        rule: str = RULE_CENTRE,
    ) -> None:
        if method not in METHODS:
            raise FaceRecError(
                f"unknown classifier {method!r}; choose one of: {', '.join(METHODS)}"
            )
        if rule not in RULES:
            raise FaceRecError(f"unknown 1:K rule {rule!r}; choose one of: {', '.join(RULES)}")
        self.method = method
        self.rule = rule
        self.max_distance = max_distance
        self.min_probability = min_probability
        self.C = C
        self.embedder_id = embedder_id
        self.detector_id = LEGACY_DETECTOR  # set by train_model from the store
        self.path: str | None = None  # the file it was loaded from, for messages
        self.mode: str | None = None
        self.calibration: dict[str, Any] = {}
        self.notes: list[str] = []
        self.encoder: LabelEncoder | None = None
        self.svm: CalibratedClassifierCV | None = None
        self.gallery: Embeddings = np.zeros((0, 0), np.float32)
        self.gallery_labels: NDArray[np.int64] = np.zeros(0, np.int64)
        self.centres: Embeddings = np.zeros((0, 0), np.float32)

    @property
    def classes_(self) -> list[str]:
        if self.encoder is None:
            return []
        return [str(c) for c in self.encoder.classes_]

    def fit(self, embeddings: Embeddings, names: Sequence[str]) -> IdentityClassifier:
        """Learn from (N, D) unit embeddings and their N names.

        Raises:
            DatasetError: no embeddings, or their count differs from the names'.
        """
        if len(embeddings) == 0 or len(embeddings) != len(names):
            raise DatasetError("nothing to train on: no face embeddings (run extract-embeddings)")
        self.encoder = LabelEncoder().fit(list(names))
        labels = self.encoder.transform(list(names)).astype(np.int64)
        x = np.asarray(embeddings, np.float32)
        self._set_gallery(x, labels)
        self.centres = unit_rows(person_sums(x, labels, len(self.encoder.classes_)))
        self.notes = []
        counts = Counter(names)
        if len(counts) == 1:
            self.mode = MODE_DISTANCE
            self.svm = None
            self.notes.append(
                f"one person enrolled ({next(iter(counts))}): naming by distance "
                "(max_distance) instead of an SVM; enrol a second person to train the SVM"
            )
            return self
        if self.method == MODE_NEAREST or (
            self.method == "auto" and len(counts) > NEAREST_ABOVE_PEOPLE
        ):
            self.mode = MODE_NEAREST
            self.svm = None
            self.notes.append(
                f"{len(counts)} people: naming by the nearest person ({self.rule}; matrix "
                "products per query); probabilities are similarities (1 - distance/2), not calibrated"
            )
            return self
        self.mode = MODE_SVM
        self.svm = self._fit_svm(x, labels, counts)  # in the given order, as it always was
        return self

    def _set_gallery(self, embeddings: Embeddings, labels: NDArray[np.int64]) -> None:
        """Keep the enrolled faces grouped by person: the nearest face of each person is then
        one pass over them (vectors.nearest_per_person), with no copy per query."""
        order = np.argsort(labels, kind="stable")
        self.gallery = np.ascontiguousarray(embeddings[order])
        self.gallery_labels = labels[order]

    def _fit_svm(
        self, x: Embeddings, y: NDArray[np.int64], counts: Counter[str]
    ) -> CalibratedClassifierCV:
        svc = SVC(kernel="linear", C=self.C, class_weight="balanced")
        fewest = min(counts.values())
        if fewest >= _MIN_IMAGES_FOR_CV:
            folds = StratifiedKFold(n_splits=min(5, fewest), shuffle=True, random_state=0)
            return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False).fit(x, y)
        few = sorted(n for n, c in counts.items() if c < _MIN_IMAGES_FOR_CV)
        self.notes.append(
            f"probabilities calibrated on the training faces themselves: fewer than "
            f"{_MIN_IMAGES_FOR_CV} images for {', '.join(few)}; add more for better calibration"
        )
        everything = np.arange(len(y))
        frozen = FrozenEstimator(svc.fit(x, y))
        calibrated = CalibratedClassifierCV(frozen, method="sigmoid", cv=[(everything, everything)])
        return calibrated.fit(x, y)

    def predict(self, embeddings: Embeddings) -> list[Match]:
        """One Match per row of (N, D) unit embeddings; name None means unknown.

        Every Match carries the person picked (`candidate`) and the distance to that person's
        centre, known or not, so a caller sees how near the call was.
        """
        if self.mode is None or self.encoder is None:
            raise NotTrainedError("no trained recognizer: run train-model first")
        if len(embeddings) == 0:
            return []
        query = np.asarray(embeddings, np.float32)
        classes = self.classes_
        distances = person_distances(
            query, self.centres, self.gallery, self.gallery_labels, self.rule
        )
        rows = np.arange(len(query))
        prob: NDArray[np.float64] | None = None
        if self.mode == MODE_SVM and self.svm is not None:
            probabilities = self.svm.predict_proba(query)
            best = self._side_with_gallery(distances, probabilities.argmax(axis=1))
            prob = probabilities[rows, best]
        else:
            best = distances.argmin(axis=1)  # no SVM, no probability: the distance decides
        dist = distances[rows, best]
        matches = []
        for i, label in enumerate(best):
            d, name = float(dist[i]), classes[int(label)]
            p = None if prob is None else float(prob[i])
            near = d <= self.max_distance
            sure = p is None or p >= self.min_probability
            matches.append(Match(name if near and sure else None, p, d, name, near and not sure))
        return matches

    def _side_with_gallery(
        self, distances: NDArray[np.float32], best: NDArray[np.int64]
    ) -> NDArray[np.int64]:
        """When the nearest person centre is not the SVM's pick and is clearly nearer (by
        NEAREST_MARGIN), that person is the answer.

        With a few photos a person the SVM's boundaries are weakly determined: on the Hamilton
        clip it called Lin-Manuel Miranda `alex_lacamoire` in 14 frames (distance 1.0-1.08 to
        Alex's photo) while Lin's own photo was at 0.80-0.89.
        """
        rows = np.arange(len(best))
        nearest = distances.argmin(axis=1)
        override = (nearest != best) & (
            distances[rows, best] - distances[rows, nearest] > NEAREST_MARGIN
        )
        return np.where(override, nearest, best)

    # -- persistence ------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "embedder_id": self.embedder_id,
            "detector_id": self.detector_id,
            "dim": int(self.gallery.shape[1]) if self.gallery.size else 0,
            "mode": self.mode,
            "notes": list(self.notes),
            "classes": self.classes_,
            "max_distance": float(self.max_distance),
            "min_probability": float(self.min_probability),
            "calibration": dict(self.calibration),
            "C": float(self.C),
            "method": self.method,
            "rule": self.rule,
            "sklearn_version": sklearn.__version__,
            "encoder": self.encoder,
            "svm": self.svm,
            "gallery": self.gallery,
            "gallery_labels": self.gallery_labels,
            "centres": self.centres,
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the classifier atomically with skops (no pickle)."""
        if self.mode is None:
            raise NotTrainedError("nothing to save: the classifier is not trained")
        write_state(path, self._state())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], embedder_id: str | None = None
    ) -> IdentityClassifier:
        """Read a recognizer file written by save(), refusing anything but our own types.

        Raises:
            FaceRecError: missing file, not a recognizer file, or untrusted content.
            IncompatibleModelError: built with another embedder or an unknown format version.
        """
        state = read_state(path, embedder_id)
        model = cls(
            state["max_distance"],
            state["min_probability"],
            state["C"],
            state["embedder_id"],
            str(state.get("method", "auto")),
            str(state.get("rule", RULE_CENTRE)),
        )
        model.detector_id = str(state.get("detector_id", LEGACY_DETECTOR))
        model.path = str(path)
        model.mode = state["mode"]
        model.notes = list(state["notes"])
        model.calibration = dict(state.get("calibration") or {})
        model.encoder = state["encoder"]
        model.svm = state["svm"]
        model._set_gallery(
            np.asarray(state["gallery"], np.float32), np.asarray(state["gallery_labels"], np.int64)
        )
        model.centres = np.asarray(state["centres"], np.float32)
        return model
