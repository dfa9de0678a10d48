"""Distances behind the default max_distance, on the repository's real images.

    python bench/thresholds.py [sface|facenet|dlib]

Gallery: every face in dataset/. Strangers: every face in tests/data/bbt (crops and group
photos; none of them is enrolled). Known: the single-person photos in examples/. Distances are
the classifier's own, by the embedder's 1:K rule. Prints the distributions
and, per threshold, the share of strangers rejected.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.classify import IdentityClassifier  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.imageio import iter_dataset, read_image  # noqa: E402

KNOWN = {
    "alex_lacamoire1.jpg": "alex_lacamoire",
    "johnsnow_test1.jpg": "kit_harington",
    "obama1.jpg": "obama",
}


def main() -> None:
    r = FaceRecognizer.from_models_dir(embedder=sys.argv[1] if len(sys.argv) > 1 else None)
    cap = r.embedder.spec.max_distance
    items = list(iter_dataset(ROOT / "dataset"))
    faces = r.embed_images([read_image(i.path) for i in items])
    g = np.concatenate([f.embeddings for f in faces])
    rule = r.embedder.spec.rule
    model = IdentityClassifier(2.0, 0.0, method="nearest", rule=rule).fit(
        g, [i.person for i in items]
    )
    print(f"{r.embedder.spec.id}, rule {rule}")
    strangers = []
    for path in sorted((ROOT / "tests/data/bbt").glob("**/*.*g")):
        image = read_image(path)
        found = r.find_faces(image)
        if path.suffix == ".png":  # a crop: its one face
            found = [max(found, key=lambda d: d.area)] if found else []
        if found:
            strangers += [m.distance for m in model.predict(r.embed_detections(image, found))]
    known = []
    for name, person in KNOWN.items():
        _, emb = r.embed_faces(read_image(ROOT / "examples" / name))
        [match] = [m for m in model.predict(emb) if m.candidate == person]
        known.append(match.distance)
    s = np.array(strangers)
    print(
        f"strangers: {len(s)} faces, nearest {s.min():.3f}, p5 {np.percentile(s, 5):.3f}, "
        f"median {np.median(s):.3f}"
    )
    print(
        "known (examples/):", ", ".join(f"{k} {d:.3f}" for k, d in zip(KNOWN, known, strict=True))
    )
    for t in np.arange(cap - 0.06, cap + 0.17, 0.02):
        print(
            f"max_distance {t:.2f}: strangers rejected {(s > t).mean():.1%}, known named "
            f"{sum(d <= t for d in known)}/{len(known)}"
        )


if __name__ == "__main__":
    main()
