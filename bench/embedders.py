"""Milliseconds per face for each installed embedder, crop (alignment) and embedding included.

    python bench/embedders.py

Detects the faces of the repository's 54 labelled images once, then times each embedder's
crops() + embed() over all of them (batches as the pipeline makes them, 3 rounds, best kept).
The accuracy side by side comes from the evaluate commands (README "Accuracy").
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_pairs import labelled  # noqa: E402

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.errors import ModelError  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    base = FaceRecognizer.from_models_dir()
    faces = []
    for _, rel in labelled():
        image = read_image(ROOT / rel)
        found = base.find_faces(image)
        if found:
            faces.append((image, [max(found, key=lambda d: d.area)]))
    for name in registry.EMBEDDERS:
        try:
            r = FaceRecognizer.from_models_dir(embedder=name)
        except ModelError as err:
            print(f"{name}: not available ({err})")
            continue
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            crops = [r.embedder.crops(image, dets) for image, dets in faces]
            for i in range(0, len(crops), 8):
                r.embedder.embed(np.concatenate(crops[i : i + 8]))
            best = min(best, time.perf_counter() - start)
        print(
            f"{name} ({r.embedder.spec.id}): {1000 * best / len(faces):.1f} ms/face "
            f"over {len(faces)} faces, crop and embedding"
        )


if __name__ == "__main__":
    main()
