"""FaceRecognizer: composes detect -> landmarks -> crop -> embed (-> classify) for an image."""

from __future__ import annotations

import os
from collections.abc import Sequence

from . import models
from .align import face_crops
from .classify import IdentityClassifier
from .detect import FaceDetector
from .embed import Embedder
from .errors import NotTrainedError
from .landmarks import Landmarker
from .types import Detection, Embeddings, Image, RecognizedFace


class FaceRecognizer:
    """Owns the loaded models; build once (from_models_dir) and reuse for every image."""

    def __init__(
        self,
        detector: FaceDetector,
        landmarker: Landmarker,
        embedder: Embedder,
        classifier: IdentityClassifier | None = None,
    ) -> None:
        self.detector = detector
        self.landmarker = landmarker
        self.embedder = embedder
        self.classifier = classifier

    @classmethod
    def from_models_dir(
        cls,
        models_dir: str | os.PathLike[str] | None = None,
        embedder: str = models.DEFAULT_EMBEDDER,
        confidence: float = 0.5,
        classifier: IdentityClassifier | None = None,
    ) -> FaceRecognizer:
        """Load every model once (sha256-checked). The only factory; no globals."""
        spec = models.embedder_spec(embedder)
        return cls(
            FaceDetector(models.load_net(models.DETECTOR, models_dir), models.DETECTOR, confidence),
            Landmarker(models.load_net(models.LANDMARKER, models_dir), models.LANDMARKER),
            Embedder(models.load_net(spec, models_dir), spec),
            classifier,
        )

    def find_faces(self, image: Image) -> list[Detection]:
        """Detections with landmarks, best score first."""
        return self.landmarker.refine(image, self.detector.detect(image))

    def embed_detections(self, image: Image, detections: Sequence[Detection]) -> Embeddings:
        """(N, D) embeddings for the given detections of one image, in one batch."""
        return self.embedder.embed(face_crops(image, detections, self.embedder.spec))

    def embed_faces(self, image: Image) -> tuple[list[Detection], Embeddings]:
        detections = self.find_faces(image)
        return detections, self.embed_detections(image, detections)

    def recognize(self, image: Image) -> list[RecognizedFace]:
        """Every face in the image with a name (or unknown), probability and distance."""
        if self.classifier is None:
            raise NotTrainedError("no trained recognizer loaded: run train-model first")
        detections, embeddings = self.embed_faces(image)
        matches = self.classifier.predict(embeddings)
        return [RecognizedFace(d, m) for d, m in zip(detections, matches, strict=True)]
