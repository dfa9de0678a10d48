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
Saved with skops (no pickle): loading accepts only the types listed in TRUSTED_TYPES.
"""

from __future__ import annotations

import io
import logging
import os
import zipfile
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

from pipeline.atomic import atomic_path
from pipeline.errors import (
    DatasetError,
    FaceRecError,
    ImageError,
    IncompatibleModelError,
    NotTrainedError,
)
from pipeline.files import read_file
from pipeline.registry import DETECTOR, RETIRED_EMBEDDERS, mismatch_fix
from pipeline.types import Embeddings, Match
from pipeline.vectors import RULE_CENTRE, RULES, person_distances, person_sums, unit_rows

log = logging.getLogger(__name__)

FORMAT = "facerec-recognizer"
FORMAT_VERSION = 3
# Versions load() reads: 2 was written before the 1:K rule was recorded, and all used centres.
READABLE_VERSIONS = (2, 3)
LEGACY_DETECTOR = DETECTOR.id  # files written before the detector was recorded used the SSD
MAX_RECOGNIZER_BYTES = 1 << 30  # about 500,000 enrolled 512-d faces
_INFLATE_SLACK = 16 << 20
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

# Every type a recognizer file may contain; anything else is refused on load.
TRUSTED_TYPES = [
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.frozen._frozen.FrozenEstimator",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn.preprocessing._label.LabelEncoder",
    "sklearn.svm._classes.SVC",
]
# numpy scalar and dtype types skops may list for arrays inside our estimators.
_BUILTIN_OK = {"numpy.dtype", "numpy.float64", "numpy.int64", "numpy.ndarray", "builtins.str"}


def _check_archive(data: bytes, path: str | os.PathLike[str]) -> None:
    """Refuse an archive that would unpack to far more than its size before unpacking it.

    train-model stores its parts uncompressed, so a real file unpacks to about its own size; a
    1 MB zip bomb would inflate to gigabytes inside skops before any check could refuse it.
    Python's zipfile never inflates a member past its declared size, so the declared sizes
    are a bound.

    Raises:
        FaceRecError: not a zip archive, or it unpacks to more than twice its size + 16 MB.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as err:
        raise FaceRecError(f"{path}: not a readable recognizer file ({err})") from err
    if inflated > 2 * len(data) + _INFLATE_SLACK:
        raise FaceRecError(
            f"{path}: unpacks to {inflated / 1e6:.0f} MB from {len(data) / 1e6:.1f} MB on disk; "
            "train-model never writes that (a zip bomb?); refusing to load it"
        )


def _check_structure(state: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Every part of a loaded recognizer is what save() writes, or the file is refused: skops
    trusts any scikit-learn estimator by itself (a DummyClassifier would load, then fail).

    Raises:
        FaceRecError: a part is missing or of another type or shape.
    """
    svm = state.get("svm")
    inner = getattr(svm, "estimator", None)
    gallery, labels, centres = (state.get(k) for k in ("gallery", "gallery_labels", "centres"))
    classes = state.get("classes")
    encoder = state.get("encoder")
    people = len(classes) if isinstance(classes, list) else -1
    dim = state.get("dim")

    def units(a: object) -> bool:
        """A finite 2-D float array of unit rows, `dim` wide: embeddings as save() writes them."""
        if not (isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype.kind == "f"):
            return False
        norms = np.linalg.norm(a, axis=1) if a.size else np.zeros(0)
        return (
            a.shape[1] == dim
            and bool(np.all(np.isfinite(a)))
            and bool(np.all(np.abs(norms - 1.0) < 1e-3))
        )

    checks = {
        "classes": people >= 1 and all(isinstance(c, str) for c in classes),
        "encoder": isinstance(encoder, LabelEncoder)
        and [str(c) for c in getattr(encoder, "classes_", [])] == classes,
        "svm": svm is None
        or (
            isinstance(svm, CalibratedClassifierCV)
            and isinstance(inner, SVC | FrozenEstimator)
            and len(getattr(svm, "classes_", [])) == people
        ),
        "mode": state.get("mode") in (MODE_SVM, MODE_NEAREST, MODE_DISTANCE),
        "detector_id": isinstance(state.get("detector_id", LEGACY_DETECTOR), str),
        "dim": isinstance(dim, int) and dim > 0,
        "gallery": units(gallery) and len(gallery) >= people,
        "gallery_labels": isinstance(labels, np.ndarray)
        and labels.ndim == 1
        and labels.dtype.kind in "iu"
        and isinstance(gallery, np.ndarray)
        and len(labels) == len(gallery)
        and set(np.unique(labels).tolist()) == set(range(people)),  # every person has a face
        "centres": units(centres) and len(centres) == people,
    }
    wrong = [key for key, ok in checks.items() if not ok]
    if wrong:
        raise FaceRecError(
            f"{path}: not a recognizer file written by facerec train-model, or damaged "
            f"(unexpected {', '.join(wrong)}); re-run train-model"
        )


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
        import skops.io as sio

        if self.mode is None:
            raise NotTrainedError("nothing to save: the classifier is not trained")
        with atomic_path(path) as tmp:
            sio.dump(self._state(), tmp)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], embedder_id: str | None = None
    ) -> IdentityClassifier:
        """Read a recognizer file written by save(), refusing anything but our own types.

        Raises:
            FaceRecError: missing file, not a recognizer file, or untrusted content.
            IncompatibleModelError: built with another embedder or an unknown format version.
        """
        import skops.io as sio

        if not os.path.isfile(path):
            raise FaceRecError(f"{path}: no trained recognizer there (run train-model first)")
        try:
            data, _ = read_file(path, MAX_RECOGNIZER_BYTES)
        except ImageError as err:  # a FIFO or device, too large, unreadable
            raise FaceRecError(f"recognizer file {err}") from err
        _check_archive(data, path)
        try:
            untrusted = sio.get_untrusted_types(data=data)
            extra = sorted(set(untrusted) - set(TRUSTED_TYPES) - _BUILTIN_OK)
            if extra:
                raise FaceRecError(
                    f"{path}: refusing to load, it contains types we never write: {', '.join(extra)}"
                )
            state = sio.loads(data, trusted=[t for t in untrusted if t not in extra])
        except FaceRecError:
            raise
        except Exception as err:  # skops raises many types for a damaged zip
            raise FaceRecError(f"{path}: not a readable recognizer file ({err})") from err
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise FaceRecError(f"{path}: not a recognizer file written by facerec train-model")
        if state.get("embedder_id") in RETIRED_EMBEDDERS:
            fix = mismatch_fix(str(state["embedder_id"]), embedder_id or "today's", "--model")
            raise IncompatibleModelError(f"{path}: {fix}")
        if state.get("format_version") not in READABLE_VERSIONS:
            raise IncompatibleModelError(
                f"{path}: recognizer format {state.get('format_version')}, this version reads "
                f"{', '.join(map(str, READABLE_VERSIONS))}; re-run train-model"
            )
        if embedder_id is not None and state["embedder_id"] != embedder_id:
            fix = mismatch_fix(str(state["embedder_id"]), embedder_id, "--model")
            raise IncompatibleModelError(f"{path}: {fix}")
        _check_structure(state, path)
        for key, high in (("max_distance", 2.0), ("min_probability", 1.0)):
            value = state.get(key)
            if not isinstance(value, int | float) or not 0.0 <= value <= high:  # NaN fails too
                raise FaceRecError(f"{path}: not a usable recognizer file ({key} is {value!r})")
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
