"""Face detectors: each turns a BGR image into Detections (box, score), best first.

Two are shipped, described by data in registry.DETECTORS: the ResNet-10 SSD of the design card
(`ssd`) and OpenCV's YuNet (`yunet`). Which one made a store's crops is recorded in the store.
"""

from __future__ import annotations

from typing import Protocol

from pipeline import registry
from pipeline.detectors.ssd import SsdDetector
from pipeline.detectors.yunet import YunetDetector
from pipeline.errors import ModelError
from pipeline.modelfiles import ModelFiles
from pipeline.types import Detection, Image


class Detector(Protocol):
    spec: registry.ModelSpec
    confidence: float

    def detect(self, image: Image, thorough: bool = True) -> list[Detection]: ...


def load_detector(
    spec: registry.ModelSpec,
    files: ModelFiles,
    confidence: float | None = None,
) -> Detector:
    """The detector a spec describes, its files sha256-checked; `confidence` defaults to the
    spec's own measured threshold."""
    threshold = spec.confidence if confidence is None else confidence
    if spec.format == "yunet":
        return YunetDetector(files.data(spec.files[0]), spec, threshold)
    if spec.format == "tensorflow":
        return SsdDetector(files.net(spec), spec, threshold)
    raise ModelError(f"{spec.id}: no detector reads the format {spec.format!r}")


__all__ = ["Detector", "SsdDetector", "YunetDetector", "load_detector"]
