"""Offline face recognition: OpenCV DNN detection, landmarks and embeddings, a scikit-learn SVM.

Names are imported lazily (PEP 562) so that `facerec` can report a broken OpenCV install in
one line instead of failing while importing this package.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# OpenCV's own ceiling for decoding an image whose size we cannot read from its header (TIFF,
# JPEG 2000, ...): 50 MP, as imageio.MAX_PIXELS, instead of OpenCV's 1 gigapixel (3 GB). OpenCV
# reads it once, when cv2 is first imported, so it is set before any module here imports cv2.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000")

_EXPORTS = {
    "FaceRec": "api",
    "load_image": "api",
    "detect": "api",
    "embed": "api",
    "verify": "api",
    "recognize": "api",
    "find": "api",
    "Neighbour": "search",
    "DatasetError": "errors",
    "FaceRecError": "errors",
    "ImageError": "errors",
    "IncompatibleModelError": "errors",
    "ModelChecksumError": "errors",
    "ModelError": "errors",
    "ModelNotFoundError": "errors",
    "NoFaceError": "errors",
    "NotTrainedError": "errors",
    "StoreError": "errors",
    "VideoError": "errors",
    "TooManyFaces": "errors",
    "Detection": "types",
    "ExtractReport": "types",
    "ImageResult": "types",
    "Match": "types",
    "RecognizedFace": "types",
    "VideoReport": "types",
    "Verification": "types",
    "PairsReport": "evaluation.reports",
    "IdentificationReport": "evaluation.reports",
    "IdentityClassifier": "classify",
    "open_store": "stores",
    "extract_embeddings": "extract",
    "train_model": "train",
    "recognize_images": "recognize",
    "recognize_video": "video.stream",
    "read_pairs": "evaluation.pairsfile",
    "evaluate_pairs": "evaluation.verification",
    "evaluate_identification": "evaluation.identification",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
