"""Embedders: a face crop to a unit vector. cv2.dnn nets (SFace, FaceNet; cvdnn.py) and dlib's
ResNet (dlib.py, optional), all described by registry entries and built by load_embedder."""

from __future__ import annotations

from pipeline.embedders.base import DEFAULT_BATCH, AnyEmbedder, embed_crops
from pipeline.embedders.cvdnn import Embedder
from pipeline.modelfiles import ModelFiles
from pipeline.registry import ModelSpec
from pipeline.runtimes import load_runner


def load_embedder(spec: ModelSpec, files: ModelFiles, backend: str = "auto") -> AnyEmbedder:
    """The embedder a spec describes: a net run by cv2.dnn or a faster installed runtime
    (runtimes/), or dlib's (optional extra)."""
    if spec.format == "dlib":
        from pipeline.embedders.dlib import DlibEmbedder

        return DlibEmbedder(spec, files)
    runner = load_runner(spec, files, backend, DEFAULT_BATCH)
    return Embedder(runner, spec, center=files.center(spec))


__all__ = ["AnyEmbedder", "Embedder", "embed_crops", "load_embedder"]
