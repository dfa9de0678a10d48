"""Embedding the images an evaluation names, in batches, each image's main face; an image
that cannot be read or shows no face is reported, not fatal."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from pipeline.core import FaceRecognizer
from pipeline.errors import ImageError
from pipeline.imageio import over_budget, read_image
from pipeline.types import (
    Embeddings,
    Skip,
)

Progress = Callable[[Iterable[Any], int], Iterable[Any]]
NO_FACE = "no face found"

BATCH_IMAGES = 16


def _no_progress(items: Iterable[Any], total: int) -> Iterable[Any]:
    return items


def embed_paths(
    recognizer: FaceRecognizer,
    paths: Sequence[Path],
    every_face: bool = False,
    progress: Progress = _no_progress,
) -> tuple[dict[Path, Embeddings], list[Skip]]:
    """Embeddings of the main face (or every face) of each image, batched across images.

    Images that cannot be read or show no face are returned as Skips, not raised.
    """
    found: dict[Path, Embeddings] = {}
    skipped: list[Skip] = []
    batch: list[tuple[Path, Any]] = []

    def flush() -> None:
        results = recognizer.embed_images([image for _, image in batch], every_face)
        for (path, _), faces in zip(batch, results, strict=True):
            if faces.error is not None:
                skipped.append(Skip(str(path), faces.error))
            elif faces.detections:
                found[path] = faces.embeddings
            else:
                skipped.append(Skip(str(path), NO_FACE))
        batch.clear()

    for path in progress(paths, len(paths)):
        try:
            image = read_image(path)
        except ImageError as err:
            skipped.append(Skip(str(path), str(err).split(": ", 1)[-1]))
            continue
        if over_budget(sum(im.nbytes for _, im in batch), image.nbytes):
            flush()
        batch.append((path, image))
        if len(batch) >= BATCH_IMAGES:
            flush()
    if batch:
        flush()
    return found, skipped


def crop_name(spec: Any) -> str:
    return spec.crop if spec.crop == "align5" else f"{spec.crop}+{spec.margin:g}"
