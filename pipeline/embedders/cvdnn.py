"""Embedder: face crops (N, S, S, 3) BGR uint8 -> (N, D) float32 L2-normalised embeddings."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from pipeline import modelfiles
from pipeline.embedders.align import face_crops
from pipeline.registry import ModelSpec
from pipeline.runtimes import Runner, load_runner
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


class Embedder:
    """Owns the loaded embedding net; `spec.id` travels with every embedding it makes."""

    def __init__(self, runner: Runner, spec: ModelSpec, center: np.ndarray | None = None) -> None:
        self.runner = runner
        self.spec = spec
        self.center = center

    @property
    def id(self) -> str:
        return self.spec.id

    def crops(self, image: Image, detections: Sequence[Detection]) -> Image:
        """The face crops this net wants, (N, S, S, 3) BGR uint8, as its spec describes."""
        return face_crops(image, detections, self.spec)

    def preprocess(self, crops: Image) -> np.ndarray:
        """(N, S, S, 3) BGR uint8 -> (N, 3, S, S) float32 in the net's colour order and scale."""
        x = (crops[..., ::-1] if self.spec.swap_rb else crops).astype(np.float32)
        if self.spec.standardize:  # FaceNet's per-image prewhitening
            flat = x.reshape(len(x), -1)
            mean = flat.mean(axis=1)
            std = np.maximum(flat.std(axis=1), 1.0 / np.sqrt(flat.shape[1]))
            x = (x - mean[:, None, None, None]) / std[:, None, None, None]
        else:
            x = (x - np.asarray(self.spec.mean, np.float32)) * np.float32(self.spec.scale)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)

    def embed(self, crops: Image) -> Embeddings:
        """Embed a stack of crops in batches of `batch_size`; returns (N, D) unit vectors."""
        return embed_crops(self._forward, crops, self.spec, self.center)

    def _forward(self, crops: Image) -> Embeddings:
        return self.runner.run(self.preprocess(crops)).astype(np.float32)


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


def load_embedder(
    spec: ModelSpec,
    models_dir: str | os.PathLike[str] | None = None,
    backend: str = "auto",
) -> AnyEmbedder:
    """The embedder a spec describes: a net run by cv2.dnn or a faster installed runtime
    (runtimes/), or dlib's (embed_dlib, optional)."""
    if spec.format == "dlib":
        from pipeline.embedders.dlib import DlibEmbedder

        return DlibEmbedder(spec, models_dir)
    runner = load_runner(spec, models_dir, backend, DEFAULT_BATCH)
    return Embedder(runner, spec, center=modelfiles.load_center(spec, models_dir))
