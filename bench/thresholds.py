"""Distances behind the default max_distance, on the repository's real images.

    python bench/thresholds.py

Gallery: every face in dataset/. Strangers: every face in tests/data/bbt (crops and group
photos; none of them is enrolled). Known: the single-person photos in examples/. Prints the
distance distributions and, per threshold, the share of strangers rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.classify import pairwise_distances  # noqa: E402
from pipeline.imageio import iter_dataset, read_image  # noqa: E402
from pipeline.recognizer import FaceRecognizer  # noqa: E402

KNOWN = {"alex_lacamoire1.jpg": "alex_lacamoire", "johnsnow_test1.jpg": "kit_harington",
         "obama1.jpg": "obama"}  # fmt: skip


def main() -> None:
    r = FaceRecognizer.from_models_dir()
    names, gallery = [], []
    for item in iter_dataset(ROOT / "dataset"):
        image = read_image(item.path)
        face = max(r.find_faces(image), key=lambda d: d.area)
        names.append(item.person)
        gallery.append(r.embed_detections(image, [face])[0])
    g, labels = np.array(gallery), np.array(names)
    strangers = []
    for path in sorted((ROOT / "tests/data/bbt").glob("**/*.*g")):
        image = read_image(path)
        found = r.find_faces(image)
        if path.suffix == ".png":  # a crop: its one face
            found = [max(found, key=lambda d: d.area)] if found else []
        if found:
            strangers += (
                pairwise_distances(r.embed_detections(image, found), g).min(axis=1).tolist()
            )
    known = []
    for name, person in KNOWN.items():
        _, emb = r.embed_faces(read_image(ROOT / "examples" / name))
        known.append(float(pairwise_distances(emb, g[labels == person]).min()))
    s = np.array(strangers)
    print(f"strangers: {len(s)} faces, nearest {s.min():.3f}, p5 {np.percentile(s, 5):.3f}, "
          f"median {np.median(s):.3f}")  # fmt: skip
    print(
        "known (examples/):", ", ".join(f"{k} {d:.3f}" for k, d in zip(KNOWN, known, strict=True))
    )
    for t in (1.0, 1.05, 1.06, 1.07, 1.08, 1.1, 1.12):
        print(f"max_distance {t:.2f}: strangers rejected {(s > t).mean():.1%}, known named "
              f"{sum(d <= t for d in known)}/{len(known)}")  # fmt: skip


if __name__ == "__main__":
    main()
