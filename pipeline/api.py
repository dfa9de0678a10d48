"""The Python API: the jobs people do in a few lines, with one colour convention.

Inside, images are BGR uint8 arrays (OpenCV's order). Every method that takes an image takes a
file path, the file's bytes, or an array; an array must say its channel order, `channels="rgb"`
(what `face_recognition.load_image_file`, PIL and matplotlib give) or `channels="bgr"`
(`cv2.imread`), because the wrong order runs without an error and moves distances (one
same-person pair went from 0.605 to 0.933, near the threshold). A 2-D array is grey and needs
no order.

    from pipeline import FaceRec
    fr = FaceRec()                                   # loads the nets once
    fr.verify("dataset/obama/obama.jpg", "examples/obama1.jpg").same

Errors are the project's own (pipeline.errors): ImageError for a missing or unreadable image or
an array without its order, NoFaceError when a job needs a face and there is none,
NotTrainedError for recognize without a recognizer file, StoreError for find without a store.
"""

from __future__ import annotations

import os

import cv2
import numpy as np

from pipeline.classify import IdentityClassifier
from pipeline.core import FaceRecognizer
from pipeline.errors import ImageError, IncompatibleModelError, NotTrainedError
from pipeline.imageio import decode_image, read_image
from pipeline.registry import chosen_embedder, embedder_spec
from pipeline.search import Neighbour
from pipeline.stores import made_with, open_existing
from pipeline.types import Detection, Embeddings, Image, RecognizedFace, Verification

ImageInput = str | os.PathLike[str] | bytes | np.ndarray
CHANNELS = ("bgr", "rgb")


def load_image(source: ImageInput, channels: str | None = None) -> Image:
    """An image as BGR uint8 (H, W, 3), from a path, encoded bytes or an array.

    `channels` ("rgb" or "bgr") is required for a 3-channel array and ignored otherwise: files
    and bytes carry their own order.

    Raises:
        ImageError: a missing or unreadable file, bytes that are not an image, an array without
            `channels`, or an array that is not uint8 (H, W), (H, W, 3).
    """
    if isinstance(source, bytes | bytearray):
        return decode_image(bytes(source))
    if isinstance(source, str | os.PathLike):
        return read_image(source)
    if not isinstance(source, np.ndarray):
        raise ImageError(f"not an image: {type(source).__name__} (give a path, bytes or an array)")
    if source.dtype != np.uint8 or source.ndim not in (2, 3) or source.size == 0:
        raise ImageError(
            f"an image array must be uint8 (H, W) or (H, W, 3), not {source.dtype} {source.shape}"
        )
    if source.ndim == 2:
        return cv2.cvtColor(source, cv2.COLOR_GRAY2BGR)
    if source.shape[2] != 3:
        raise ImageError(f"an image array must have 3 channels, not {source.shape[2]}")
    if channels not in CHANNELS:
        raise ImageError(
            "say the array's channel order: channels='rgb' (face_recognition, PIL) or "
            "channels='bgr' (cv2.imread); the wrong one runs silently and moves distances"
        )
    image = source[..., ::-1] if channels == "rgb" else source
    return np.ascontiguousarray(image)


class FaceRec:
    """The nets loaded once, and a trained recognizer file if given; reuse it for every image.

    `model` is a recognizer file from `facerec train-model`; without it, detect, embed, verify
    and find work, recognize does not. `embedder` and `detector` default to the ones the model
    was trained with, else SFace and its own detector; `backend` "auto" runs FaceNet in
    OpenVINO when installed.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        *,
        embedder: str | None = None,
        detector: str | None = None,
        backend: str = "auto",
        models_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        wanted = embedder_spec(embedder).id if embedder else None
        classifier = IdentityClassifier.load(model, wanted) if model is not None else None
        self.recognizer = FaceRecognizer.from_models_dir(
            models_dir, embedder, None, classifier, detector, backend
        )

    def detect(self, image: ImageInput, channels: str | None = None) -> list[Detection]:
        """Every face: box (x1, y1, x2, y2 in pixels), score, 5 landmarks; best score first."""
        return self.recognizer.find_faces(load_image(image, channels))

    def embed(self, image: ImageInput, channels: str | None = None) -> Embeddings:
        """(N, D) unit embeddings, one row per face, in detect()'s order; (0, D) without faces."""
        _, vectors = self.recognizer.embed_faces(load_image(image, channels))
        return vectors

    def verify(
        self,
        image_a: ImageInput,
        image_b: ImageInput,
        channels: str | None = None,
        max_distance: float | None = None,
    ) -> Verification:
        """Same person or not: the main face of each image (`same`, `distance`, threshold).

        Raises:
            NoFaceError: an image without a face (`which` says "first" or "second").
        """
        a, b = load_image(image_a, channels), load_image(image_b, channels)
        return self.recognizer.verify(a, b, max_distance)

    def recognize(self, image: ImageInput, channels: str | None = None) -> list[RecognizedFace]:
        """Every face with `match.name` (None when unknown), `match.distance` and
        `match.candidate`, the enrolled person it is nearest to.

        Raises:
            NotTrainedError: no recognizer file was given.
        """
        if self.recognizer.classifier is None:
            raise NotTrainedError("FaceRec(model=...) needs a recognizer file to recognize")
        return self.recognizer.recognize(load_image(image, channels))

    def find(
        self,
        image: ImageInput,
        store: str | os.PathLike[str],
        k: int = 5,
        channels: str | None = None,
    ) -> list[Neighbour]:
        """The k enrolled faces of `store` nearest to the main face of `image`, nearest first.

        Raises:
            NoFaceError: the image shows no face.
            StoreError: no store there, or a store made with another embedder or detector.
        """
        return search_store(self.recognizer, load_image(image, channels), store, k)


def search_store(
    recognizer: FaceRecognizer, image: Image, store: str | os.PathLike[str], k: int = 5
) -> list[Neighbour]:
    """The CLI's and FaceRec.find's search: the main face of `image` against a store (in a
    PostgreSQL gallery, by its HNSW index)."""
    spec = recognizer.embedder.spec
    with open_existing(store, spec.id, spec.output_dim) as opened:
        _, vector = recognizer.main_embedding(image)
        if opened.detector_id != recognizer.detector.spec.id:
            raise IncompatibleModelError(
                f"{store}: its faces were found by {opened.detector_id}, not "
                f"{recognizer.detector.spec.id}; crops of two detectors do not mix: drop "
                "--detector, or pass another --store"
            )
        found = opened.nearest(vector[0], k)
    return [Neighbour(f.person, f.relpath, d, f.box) for f, d in found]


# One-call functions, in the style of face_recognition and deepface. Each loads the nets (about
# half a second): for more than a few images, make one FaceRec and call its methods.


def detect(image: ImageInput, channels: str | None = None) -> list[Detection]:
    """Every face in the image (see FaceRec.detect)."""
    return FaceRec().detect(image, channels)


def embed(image: ImageInput, channels: str | None = None) -> Embeddings:
    """(N, D) unit embeddings of every face (see FaceRec.embed)."""
    return FaceRec().embed(image, channels)


def verify(
    image_a: ImageInput,
    image_b: ImageInput,
    channels: str | None = None,
    max_distance: float | None = None,
) -> Verification:
    """Same person or not (see FaceRec.verify)."""
    return FaceRec().verify(image_a, image_b, channels, max_distance)


def recognize(
    image: ImageInput, model: str | os.PathLike[str], channels: str | None = None
) -> list[RecognizedFace]:
    """Every face named by a recognizer file from train-model (see FaceRec.recognize)."""
    return FaceRec(model).recognize(image, channels)


def find(
    image: ImageInput, store: str | os.PathLike[str], k: int = 5, channels: str | None = None
) -> list[Neighbour]:
    """The k enrolled faces nearest to the image's main face (see FaceRec.find), embedded
    with the models the store was made with."""
    embedder, detector = made_with(store) or (None, None)
    return FaceRec(embedder=chosen_embedder(None, embedder), detector=detector).find(
        image, store, k, channels
    )
