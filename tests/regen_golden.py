"""Regenerate tests/data/reference_embeddings.json: python -m tests.regen_golden

Review the diff: a changed vector means a changed preprocessing, crop or detector, and every
store and threshold made before it is invalid (the embedder id must change with it).
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline import models
from pipeline.errors import ModelError
from pipeline.imageio import read_image
from pipeline.recognizer import FaceRecognizer

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "data" / "reference_embeddings.json"
IMAGE = "dataset/obama/obama.jpg"


def reference_vectors() -> dict[str, dict]:
    """{embedder name: {id, image, embedding}} for every installed embedder."""
    out = {}
    image = read_image(ROOT / IMAGE)
    for name in models.EMBEDDERS:
        try:
            recognizer = FaceRecognizer.from_models_dir(embedder=name)
        except ModelError as err:
            print(f"{name}: not installed, kept as it was ({err})")
            continue
        [faces] = recognizer.embed_images([image])
        vector = [round(float(v), 6) for v in faces.embeddings[0]]
        out[name] = {"id": recognizer.embedder.id, "image": IMAGE, "embedding": vector}
    return out


def main() -> None:
    old = json.loads(REFERENCE.read_text()) if REFERENCE.is_file() else {}
    REFERENCE.write_text(json.dumps({**old, **reference_vectors()}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
