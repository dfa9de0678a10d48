"""Regenerate tests/data/reference_embeddings.json: python -m tests.regen_golden

Review the diff: a changed vector means a changed preprocessing, crop or detector, and every
store and threshold made before it is invalid (the embedder id must change with it).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import registry
from pipeline.core import FaceRecognizer
from pipeline.errors import ModelError
from pipeline.imageio import read_image

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "reference_embeddings.json"
IMAGE = "dataset/obama/obama.jpg"


def key(embedder: str, detector: str) -> str:
    return f"{embedder}@{detector}"


def reference_vectors() -> dict[str, dict]:
    """{embedder@detector: {id, detector, image, embedding}} for every installed embedder and
    every detector (the crops, hence the vectors, depend on the detector's boxes)."""
    out = {}
    image = read_image(ROOT / IMAGE)
    for name in registry.EMBEDDERS:
        for detector in registry.DETECTORS:
            try:
                recognizer = FaceRecognizer.from_models_dir(
                    embedder=name, detector=detector, backend="opencv"
                )
            except ModelError as err:
                print(f"{name}: not installed, kept as it was ({err})")
                break
            [faces] = recognizer.embed_images([image])
            vector = [round(float(v), 6) for v in faces.embeddings[0]]
            out[key(name, detector)] = {
                "id": recognizer.embedder.id,
                "detector": detector,
                "image": IMAGE,
                "embedding": vector,
            }
    return out


def main() -> None:
    old = json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {}
    old = {k: v for k, v in old.items() if "@" in k}  # entries before detectors were recorded
    REFERENCE.write_text(json.dumps({**old, **reference_vectors()}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
