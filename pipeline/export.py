"""export: the stored embeddings as files other tools read: .npy, CSV and JSON Lines.

`embeddings.npy` is (N, D) float32, row i belonging to row i of `faces.csv` and line i of
`faces.jsonl` (which also carries the vector). `face` is 0 for an image's main face and 1, 2, ...
for the others of an --all-faces store. Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.atomic import write_bytes
from pipeline.stores.records import Store

CSV_FIELDS = [
    "row",
    "person",
    "path",
    "face",
    "x1",
    "y1",
    "x2",
    "y2",
    "score",
    "embedder_id",
    "detector_id",
]


@dataclass(frozen=True, slots=True)
class Exported:
    faces: int
    files: list[str]
    detector: str


def export_store(store: Store, folder: Path) -> Exported:
    """Write every embedded face of `store` into `folder`; returns what was written."""
    faces = store.records()
    detector = store.detector_id or ""
    matrix = (
        np.stack([f.embedding for f in faces]).astype(np.float32)
        if faces
        else np.zeros((0, store.dim), np.float32)
    )
    npy = io.BytesIO()
    np.save(npy, matrix, allow_pickle=False)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    lines = []
    for row, face in enumerate(faces):
        box: list[float | None] = [None] * 4 if face.box is None else list(face.box)
        writer.writerow(
            [
                row,
                face.person,
                face.relpath,
                face.face,
                *box,
                face.score,
                store.embedder_id,
                detector,
            ]
        )
        lines.append(
            json.dumps(
                {
                    "row": row,
                    "person": face.person,
                    "path": face.relpath,
                    "face": face.face,
                    "box": face.box,
                    "score": face.score,
                    "embedder_id": store.embedder_id,
                    "detector_id": detector,
                    "embedding": [float(v) for v in face.embedding],
                }
            )
        )
    files = {
        "embeddings.npy": npy.getvalue(),
        "faces.csv": table.getvalue().encode(),
        "faces.jsonl": ("\n".join(lines) + ("\n" if lines else "")).encode(),
    }
    for name, data in files.items():
        write_bytes(folder / name, data)
    return Exported(len(faces), [str(folder / n) for n in files], detector)
