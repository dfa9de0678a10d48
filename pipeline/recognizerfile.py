"""The recognizer file train-model writes: a skops archive (no pickle) of plain state, read
back only when every part is what we write (trusted types, shapes, unit rows, thresholds)."""

from __future__ import annotations

import io
import os
import zipfile
from typing import Any, TypeGuard

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.svm import SVC

from pipeline.atomic import atomic_path
from pipeline.errors import FaceRecError, ImageError, IncompatibleModelError
from pipeline.files import read_file
from pipeline.registry import DETECTOR, RETIRED_EMBEDDERS, mismatch_fix

FORMAT = "facerec-recognizer"
FORMAT_VERSION = 3
# Versions load() reads: 2 was written before the 1:K rule was recorded, and all used centres.
READABLE_VERSIONS = (2, 3)
LEGACY_DETECTOR = DETECTOR.id  # files written before the detector was recorded used the SSD
MAX_RECOGNIZER_BYTES = 1 << 30  # about 500,000 enrolled 512-d faces
_INFLATE_SLACK = 16 << 20
MODES = ("svm", "nearest", "distance")  # classify.MODE_*

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
    classes = classes if isinstance(classes, list) else []
    encoder = state.get("encoder")
    people = len(classes) if classes else -1
    dim = state.get("dim")

    def units(a: object) -> TypeGuard[np.ndarray]:
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
        "mode": state.get("mode") in MODES,
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


def write_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write the state atomically with skops (no pickle)."""
    import skops.io as sio

    with atomic_path(path) as tmp:
        sio.dump(state, tmp)


def read_state(path: str | os.PathLike[str], embedder_id: str | None = None) -> dict[str, Any]:
    """The state of a recognizer file written by write_state, refusing anything but our own.

    Raises:
        FaceRecError: missing file, not a recognizer file, or untrusted content.
        IncompatibleModelError: built with another embedder or an unknown format version.
    """
    if not os.path.isfile(path):
        raise FaceRecError(f"{path}: no trained recognizer there (run train-model first)")
    try:
        data, _ = read_file(path, MAX_RECOGNIZER_BYTES)
    except ImageError as err:  # a FIFO or device, too large, unreadable
        raise FaceRecError(f"recognizer file {err}") from err
    _check_archive(data, path)
    state = _trusted_load(data, path)
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
    return state


def _trusted_load(data: bytes, path: str | os.PathLike[str]) -> Any:
    """skops.loads of the archive, trusting only the types we write."""
    import skops.io as sio

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
    return state
