"""What every embedder shares: the interface FaceRecognizer uses, and the final step from a
net's raw outputs to unit vectors (flip averaging, mean-face centring)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from pipeline.registry import ModelSpec
from pipeline.types import Detection, Embeddings, Image
from pipeline.vectors import unit_rows

DEFAULT_BATCH = 8


class AnyEmbedder(Protocol):
    """What FaceRecognizer needs from an embedder: its spec, its crops, its vectors."""

    spec: ModelSpec

    @property
    def id(self) -> str: ...

    def crops(self, image: Image, detections: Sequence[Detection]) -> Image: ...

    def embed(self, crops: Image) -> Embeddings: ...


def embed_crops(
    forward: Callable[[Image], np.ndarray],
    crops: Image,
    spec: ModelSpec,
    center: np.ndarray | None = None,
) -> Embeddings:
    """(N, D) unit embeddings of (N, S, S, 3) crops through the net's `forward`.

    With `spec.flip`, the mean of the crop's and its mirror image's unit vectors (one more
    forward pass). With a `center` (the embedder's mean face vector, spec.center), that mean is
    subtracted before the final unit scaling, so distances measure what sets faces apart rather
    than what all faces share (FaceNet's own LFW evaluation: --subtract_mean).
    """
    if len(crops) == 0:
        return np.zeros((0, spec.output_dim), np.float32)
    if spec.flip:
        both = unit_rows(forward(np.concatenate([crops, crops[:, :, ::-1]])))
        vectors = unit_rows(both[: len(crops)] + both[len(crops) :])
    else:
        vectors = unit_rows(forward(crops))
    return vectors if center is None else unit_rows(vectors - center)
