"""Embedder: face crops (N, S, S, 3) BGR uint8 -> (N, D) float32 L2-normalised embeddings,
by a net run in cv2.dnn or a faster installed runtime (runtimes/)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.embedders.align import face_crops
from pipeline.embedders.base import embed_crops
from pipeline.registry import ModelSpec
from pipeline.runtimes import Runner
from pipeline.types import Detection, Embeddings, Image


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
