"""Compare ways of cropping faces for the embedder, on the repository's real images.

    python bench/crop_choice.py

Prints, per crop, ROC AUC and the best balanced accuracy over all same/different pairs, for the
bbt face crops (tests/data/bbt) and for the photos (dataset/ + single-person examples/).
The numbers in docs/design.md come from this script.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.embedders.align import face_crops, widen_box  # noqa: E402
from pipeline.imageio import iter_dataset, read_image  # noqa: E402
from pipeline.types import Detection  # noqa: E402
from pipeline.vectors import pairwise_distances  # noqa: E402

EXAMPLE_PEOPLE = {
    "alex_lacamoire1.jpg": "alex_lacamoire",
    "johnsnow_test1.jpg": "kit_harington",
    "obama1.jpg": "obama",
}


def clipped_crop(image, det: Detection, spec) -> np.ndarray:
    """FaceNet's own crop: widen the box, clip at the image edge, resize."""
    import cv2

    h, w = image.shape[:2]
    x1, y1, x2, y2 = widen_box(det.landmark_box, spec.margin)
    x1, y1, x2, y2 = int(max(0, x1)), int(max(0, y1)), int(min(w, x2)), int(min(h, y2))
    return cv2.resize(image[y1:y2, x1:x2], spec.input_size, interpolation=cv2.INTER_AREA)[None]


def variants(spec) -> list[tuple[str, Callable]]:
    def padded(**change):
        s = dataclasses.replace(spec, **{k: v for k, v in change.items() if k != "ssd"})
        if change.get("ssd"):
            return lambda im, d: face_crops(im, [dataclasses.replace(d, landmark_box=None)], s)
        return lambda im, d: face_crops(im, [d], s)

    return [
        ("O-Net box + 0.2, clipped (FaceNet's crop)", lambda im, d: clipped_crop(im, d, spec)),
        ("O-Net box + 0.2, black padding (default)", padded()),
        ("O-Net box + 0.1, black padding", padded(margin=0.1)),
        ("O-Net box + 0.3, black padding", padded(margin=0.3)),
        ("SSD box + 0.2, black padding", padded(ssd=True)),
        ("SSD box, no margin", padded(ssd=True, margin=0.0)),
        ("5-point warp, ArcFace template", padded(crop="align5")),
    ]


def faces(
    recognizer: FaceRecognizer, items: list[tuple[str, Path]]
) -> list[tuple[str, object, Detection]]:
    out = []
    for person, path in items:
        image = read_image(path)
        found = recognizer.find_faces(image)
        if found:
            out.append((person, image, max(found, key=lambda d: d.area)))
    return out


def score(recognizer, data, crop) -> tuple[float, float]:
    crops = np.concatenate([crop(image, det) for _, image, det in data])
    emb = recognizer.embedder.embed(crops)
    labels = np.array([p for p, _, _ in data])
    iu = np.triu_indices(len(data), 1)
    dist = pairwise_distances(emb, emb)[iu]
    same = (labels[:, None] == labels[None, :])[iu]
    best = max(
        ((dist <= t) & same).sum() / same.sum() / 2 + ((dist > t) & ~same).sum() / (~same).sum() / 2
        for t in np.linspace(0.3, 1.6, 261)
    )
    return roc_auc_score(same, -dist), best


def main() -> None:
    recognizer = FaceRecognizer.from_models_dir()
    spec = registry.EMBEDDERS["facenet"]
    bbt = [(p.parent.name, p) for p in sorted((ROOT / "tests/data/bbt").glob("*/*.png"))]
    photos = [(i.person, i.path) for i in iter_dataset(ROOT / "dataset")]
    photos += [(who, ROOT / "examples" / name) for name, who in EXAMPLE_PEOPLE.items()]
    sets = {"bbt crops": faces(recognizer, bbt), "photos": faces(recognizer, photos)}
    print(
        f"{'crop':45s} "
        + "  ".join(f"{k} ({len(v)} faces): AUC / bal.acc" for k, v in sets.items())
    )
    for name, crop in variants(spec):
        cells = [score(recognizer, data, crop) for data in sets.values()]
        print(f"{name:45s} " + "  ".join(f"{auc:.3f} / {acc:.3f}".ljust(36) for auc, acc in cells))


if __name__ == "__main__":
    main()
