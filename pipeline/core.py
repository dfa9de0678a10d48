"""The one recognition step: detect -> landmarks -> align -> embed -> decide, for an image.

The CLI, the Python API (FaceRec) and the server all call FaceRecognizer. What decides a name
is a Decider: the trained recognizer file (classify.IdentityClassifier), or the server's live
gallery, which also answers from faces enrolled since its last refit (server/gallery.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import cv2
import numpy as np

from pipeline import registry
from pipeline.classify import IdentityClassifier
from pipeline.detectors import Detector, load_detector
from pipeline.detectors.landmarks import Landmarker
from pipeline.embedders import AnyEmbedder, load_embedder
from pipeline.errors import (
    ImageError,
    IncompatibleModelError,
    NoFaceError,
    NotTrainedError,
    TooManyFaces,
)
from pipeline.modelfiles import ModelFiles
from pipeline.types import (
    Detection,
    Embeddings,
    Image,
    ImageFaces,
    Match,
    RecognizedFace,
    Verification,
)
from pipeline.vectors import pairwise_distances

_CONFIRM_BELOW = 0.7


class Decider(Protocol):
    """Names faces from their embeddings: one Match per row, in order."""

    def predict(self, embeddings: Embeddings) -> list[Match]: ...


def opencv_failure(err: BaseException) -> str:
    """One line for an OpenCV failure on one image (its own message is several lines)."""
    detail = getattr(err, "err", None) or str(err).strip().splitlines()[-1:] or [""]
    text = detail if isinstance(detail, str) else detail[0]
    return f"OpenCV failed on this image (out of memory?): {text.strip()}"[:300]


def main_face(found: Sequence[Detection], width: int, height: int) -> Detection:
    """The face a photo of one person is about: the largest, less twice its squared offset from
    the image centre (FaceNet's own rule in align_dataset_mtcnn.py). On the LFW dev folds the
    largest face alone picked a bystander in 4 pairs (-0.2 points)."""

    def weight(d: Detection) -> float:
        x1, y1, x2, y2 = (float(v) for v in d.box)
        offset = ((x1 + x2) / 2 - width / 2) ** 2 + ((y1 + y2) / 2 - height / 2) ** 2
        return d.area - 2.0 * offset

    return max(found, key=weight)


class FaceRecognizer:
    """Owns the loaded models; build once (from_models_dir) and reuse for every image."""

    def __init__(
        self,
        detector: Detector,
        landmarker: Landmarker,
        embedder: AnyEmbedder,
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
        embedder: str | registry.ModelSpec | None = None,
        confidence: float | None = None,
        classifier: IdentityClassifier | None = None,
        detector: str | None = None,
        backend: str = "auto",
    ) -> FaceRecognizer:
        """load() with the model files looked up from `models_dir` (see modelfiles.search_dirs)."""
        return cls.load(ModelFiles(models_dir), embedder, confidence, classifier, detector, backend)

    @classmethod
    def load(
        cls,
        files: ModelFiles,
        embedder: str | registry.ModelSpec | None = None,
        confidence: float | None = None,
        classifier: IdentityClassifier | None = None,
        detector: str | None = None,
        backend: str = "auto",
    ) -> FaceRecognizer:
        """Load every model once (sha256-checked). The only factory; no globals.

        `embedder` defaults to the one a given classifier was trained with, else the default
        for new galleries. `confidence` is the detector's score threshold, by default its
        spec's measured one.
        `detector` defaults to the one a given classifier was trained with, else the
        embedder's own (ModelSpec.detector, measured on LFW).

        Raises:
            IncompatibleModelError: `detector` is not the one the classifier was trained with
                (the two detectors' crops move FaceNet's vectors by about 0.2).
        `backend` runs the embedder: "auto" picks the fastest installed runtime (runtimes/).
        """
        if not isinstance(embedder, registry.ModelSpec):
            made = classifier.embedder_id if classifier is not None else None
            embedder = registry.embedder_spec(registry.chosen_embedder(embedder, made))
        spec = embedder
        if classifier is not None and classifier.embedder_id != spec.id:
            fix = registry.mismatch_fix(classifier.embedder_id, spec.id, "recognizer file")
            raise IncompatibleModelError(f"{classifier.path or 'the recognizer'}: {fix}")
        trained_with = classifier.detector_id if classifier is not None else None
        chosen = registry.detector_spec(detector or trained_with or spec.detector)
        if classifier is not None and chosen.id != trained_with:
            raise IncompatibleModelError(
                f"{classifier.path or 'the recognizer'}: trained on faces found by {trained_with}, "
                f"not {chosen.id}; drop --detector, or re-run extract-embeddings and train-model "
                "with it (into another --store)"
            )
        return cls(
            load_detector(chosen, files, confidence),
            Landmarker(files.net(registry.LANDMARKER), registry.LANDMARKER),
            load_embedder(spec, files, backend),
            classifier,
        )

    def find_faces(
        self, image: Image, thorough: bool = True, max_faces: int | None = None
    ) -> list[Detection]:
        """Detections with landmarks, best score first (`thorough`: see SsdDetector).

        In thorough mode a weak detector hit (score under 0.7) must be confirmed by O-Net
        (face probability 0.5 or more): the group-photo pass otherwise found a face printed on
        a T-shirt (SSD 0.55, O-Net 0.36), while every real face in the repository's images
        that scored under 0.7 had O-Net 1.0.

        Raises:
            TooManyFaces: more than `max_faces` faces (checked before any is embedded).
        """
        found = self.landmarker.refine(image, self.detector.detect(image, thorough))
        if thorough:
            found = [
                d for d in found if d.score >= _CONFIRM_BELOW or (d.landmark_score or 0) >= 0.5
            ]
        if max_faces is not None and len(found) > max_faces:
            raise TooManyFaces(f"{len(found)} faces, above the limit of {max_faces} per image")
        return found

    def embed_detections(self, image: Image, detections: Sequence[Detection]) -> Embeddings:
        """(N, D) embeddings for the given detections of one image, in one batch."""
        return self.embedder.embed(self.embedder.crops(image, detections))

    def embed_faces(
        self, image: Image, thorough: bool = True, max_faces: int | None = None
    ) -> tuple[list[Detection], Embeddings]:
        detections = self.find_faces(image, thorough, max_faces)
        return detections, self.embed_detections(image, detections)

    def embed_images(
        self, images: Sequence[Image], every_face: bool = False, max_faces: int | None = None
    ) -> list[ImageFaces]:
        """Detect in each image, then embed the chosen faces of all of them in one batched pass.

        The chosen faces are every face (`every_face`) or the main one (main_face), which is
        what a photo of one person means when strangers stand in the background. When OpenCV
        fails (out of memory, an image it cannot handle) the batch is redone one image at a
        time, and the image that fails comes back with `error` set instead of ending the job.
        """
        try:
            return self._embed_batch(images, every_face, max_faces)
        except (cv2.error, MemoryError) as err:
            if len(images) > 1:
                return [self.embed_images([image], every_face, max_faces)[0] for image in images]
            empty = np.zeros((0, self.embedder.spec.output_dim), np.float32)
            return [ImageFaces([], empty, 0, error=opencv_failure(err))]

    def _embed_batch(
        self, images: Sequence[Image], every_face: bool, max_faces: int | None
    ) -> list[ImageFaces]:
        chosen: list[tuple[list[Detection], int]] = []
        crops = []
        for image in images:
            found = self.find_faces(image, max_faces=max_faces)
            h, w = image.shape[:2]
            faces = found if every_face or not found else [main_face(found, w, h)]
            chosen.append((faces, len(found)))
            if faces:
                crops.append(self.embedder.crops(image, faces))
        dim = self.embedder.spec.output_dim
        vectors = self.embedder.embed(np.concatenate(crops)) if crops else np.zeros((0, dim))
        out, start = [], 0
        for faces, found_count in chosen:
            part = vectors[start : start + len(faces)].astype(np.float32)
            out.append(ImageFaces(faces, part, found_count))
            start += len(faces)
        return out

    def main_embedding(
        self, image: Image, max_faces: int | None = None
    ) -> tuple[Detection, Embeddings]:
        """The image's main face (main_face) and its (1, D) embedding: what find searches with.

        Raises:
            ImageError: OpenCV failed on the image.
            NoFaceError: the image shows no face.
        """
        [faces] = self.embed_images([image], max_faces=max_faces)
        if faces.error is not None:
            raise ImageError(faces.error)
        if not faces.detections:
            raise NoFaceError("no face found in the image", "first")
        return faces.detections[0], faces.embeddings[:1]

    def verify(
        self,
        image_a: Image,
        image_b: Image,
        max_distance: float | None = None,
        max_faces: int | None = None,
    ) -> Verification:
        """Same person or not: the main face of each image, compared by distance (1:1).

        `max_distance` defaults to the embedder's 1:1 threshold (`verify_distance`).

        Raises:
            NoFaceError: either image shows no face (`which` says which one).
        """
        a, b = self.embed_images([image_a, image_b], max_faces=max_faces)
        for which, side in (("first", a), ("second", b)):
            if side.error is not None:
                raise ImageError(f"the {which} image: {side.error}")
            if not side.detections:
                raise NoFaceError(f"no face found in the {which} image", which)
        distance = float(pairwise_distances(a.embeddings, b.embeddings)[0, 0])
        if max_distance is None:
            max_distance = self.embedder.spec.verify_distance
        return Verification(
            distance <= max_distance,
            distance,
            max_distance,
            a.detections[0],
            b.detections[0],
            a.found,
            b.found,
        )

    def recognize(
        self,
        image: Image,
        thorough: bool = True,
        decider: Decider | None = None,
        max_faces: int | None = None,
    ) -> list[RecognizedFace]:
        """Every face in the image with a name (or unknown), probability and distance.

        `decider` names the faces, by default the loaded recognizer file (self.classifier).
        `thorough=False` (video frames) skips the second search meant for tight crops.
        """
        decider = decider or self.classifier
        if decider is None:
            raise NotTrainedError("no trained recognizer loaded: run train-model first")
        detections, embeddings = self.embed_faces(image, thorough, max_faces)
        matches = decider.predict(embeddings) if detections else []
        return [RecognizedFace(d, m) for d, m in zip(detections, matches, strict=True)]
