"""FaceRecognizer: composes detect -> landmarks -> crop -> embed (-> classify) for an image."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from . import models
from .align import face_crops
from .classify import IdentityClassifier, pairwise_distances
from .detect import FaceDetector
from .embed import Embedder
from .errors import NoFaceError, NotTrainedError
from .landmarks import Landmarker
from .types import Detection, Embeddings, Image, RecognizedFace, Verification


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
        embedder: str | models.ModelSpec = models.DEFAULT_EMBEDDER,
        confidence: float = 0.5,
        classifier: IdentityClassifier | None = None,
    ) -> FaceRecognizer:
        """Load every model once (sha256-checked). The only factory; no globals."""
        spec = (
            embedder if isinstance(embedder, models.ModelSpec) else models.embedder_spec(embedder)
        )
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

    def embed_images(
        self, images: Sequence[Image], every_face: bool = False
    ) -> list[tuple[list[Detection], Embeddings]]:
        """Detect in each image, then embed the chosen faces of all of them in one batched pass.

        The chosen faces are every face (`every_face`) or the largest one, which is what a
        photo of one person means when strangers stand in the background.
        """
        chosen: list[list[Detection]] = []
        crops = []
        for image in images:
            found = self.find_faces(image)
            if found and not every_face:
                found = [max(found, key=lambda d: d.area)]
            chosen.append(found)
            if found:
                crops.append(face_crops(image, found, self.embedder.spec))
        dim = self.embedder.spec.output_dim
        vectors = self.embedder.embed(np.concatenate(crops)) if crops else np.zeros((0, dim))
        out, start = [], 0
        for found in chosen:
            out.append((found, vectors[start : start + len(found)].astype(np.float32)))
            start += len(found)
        return out

    def verify(self, image_a: Image, image_b: Image, max_distance: float) -> Verification:
        """Same person or not: the largest face of each image, compared by distance (1:1).

        Raises:
            NoFaceError: either image shows no face (`which` says which one).
        """
        (faces_a, emb_a), (faces_b, emb_b) = self.embed_images([image_a, image_b])
        for which, faces in (("first", faces_a), ("second", faces_b)):
            if not faces:
                raise NoFaceError(f"no face found in the {which} image", which)
        distance = float(pairwise_distances(emb_a, emb_b)[0, 0])
        return Verification(
            distance <= max_distance, distance, max_distance, faces_a[0], faces_b[0]
        )

    def recognize(self, image: Image) -> list[RecognizedFace]:
        """Every face in the image with a name (or unknown), probability and distance."""
        if self.classifier is None:
            raise NotTrainedError("no trained recognizer loaded: run train-model first")
        detections, embeddings = self.embed_faces(image)
        matches = self.classifier.predict(embeddings)
        return [RecognizedFace(d, m) for d, m in zip(detections, matches, strict=True)]
