"""Runtimes for the embedding net: the same weights, run by cv2.dnn (always there) or by an
optional faster engine. A runner takes the preprocessed (N, 3, S, S) float32 batch and returns
the net's (N, D) output; embeddings from every runtime must agree within 1e-4 (tested), so a
store made with one is valid with another and the embedder id does not change.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from pipeline import registry
from pipeline.errors import ModelError
from pipeline.extras import install_hint, installed
from pipeline.modelfiles import ModelFiles

BACKENDS = ("opencv", "openvino")


class Runner(Protocol):
    name: str

    def run(self, blob: np.ndarray) -> np.ndarray: ...


def available(backend: str) -> bool:
    """Whether a backend can run here (its extra installed); opencv always can."""
    return backend == "opencv" or installed(backend)


def choose_backend(spec: registry.ModelSpec, requested: str = "auto") -> str:
    """The backend to run `spec` with: `requested`, or with "auto" the fastest installed one
    the spec supports (measured: OpenVINO runs FaceNet in 0.6x cv2.dnn's time here).

    Raises:
        ModelError: the requested backend cannot run this net, or is not installed.
    """
    if requested == "auto":
        return next(b for b in reversed(BACKENDS) if b in spec.runtimes and available(b))
    if requested not in BACKENDS:
        raise ModelError(f"unknown backend {requested!r}; choose auto, {', '.join(BACKENDS)}")
    if requested not in spec.runtimes:
        raise ModelError(f"{spec.id} runs only with: {', '.join(spec.runtimes)}")
    if not available(requested):
        raise ModelError(
            f"--backend {requested} needs the {requested} extra: {install_hint(requested)}"
        )
    return requested


def load_runner(
    spec: registry.ModelSpec,
    files: ModelFiles,
    backend: str = "auto",
    batch_size: int = 8,
) -> Runner:
    """The spec's net loaded (sha256-checked) into the chosen backend."""
    chosen = choose_backend(spec, backend)
    if chosen == "openvino":
        from pipeline.runtimes.openvino import OpenVinoRunner

        return OpenVinoRunner(spec, files, batch_size)
    from pipeline.runtimes.opencv import CvDnnRunner

    return CvDnnRunner(files.net(spec), spec, batch_size)
