"""Make an embedder's mean face vector (ModelSpec.center) from the LFW dev images.

    python bench/make_center.py facenet     # writes models/<spec.center.name>, prints its sha256

Embeds the main face of every image under --root with the embedder as shipped but without a
centre, averages the unit vectors, and writes the (D,) float32 mean as .npy. Subtracting it
before the final unit scaling removes what all faces share (FaceNet's own LFW evaluation does
this with --subtract_mean): on the LFW dev folds it took FaceNet from 98.06% to 98.72% by the
LFW protocol (README "Accuracy"). The mean is a statistic of the 2,320 images, no labels are
used; it is committed, sha256-checked like every model file, and the images are not.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.evaluation.embedding import embed_paths  # noqa: E402
from pipeline.imageio import list_images  # noqa: E402

LFW_IMAGES = ROOT.parent / "shared" / "data" / "lfw-dev" / "images"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("embedder", choices=sorted(registry.EMBEDDERS))
    parser.add_argument("--root", type=Path, default=LFW_IMAGES)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "models")
    args = parser.parse_args()
    spec = registry.embedder_spec(args.embedder)
    if spec.center is None:
        raise SystemExit(f"{spec.id} has no center file in its ModelSpec")
    if not args.root.is_dir():
        print(f"skipped: {args.root} not found (LFW dev folds live in ../shared)")
        return 0
    raw = dataclasses.replace(spec, center=None)
    # The shipped vector was made on the SSD's crops (before YuNet); pin it to reproduce its sha256.
    recognizer = FaceRecognizer.from_models_dir(embedder=raw, detector="ssd", backend="opencv")
    found, skipped = embed_paths(recognizer, list_images(args.root))
    mean = np.concatenate(list(found.values())).mean(axis=0).astype(np.float32)
    buffer = io.BytesIO()
    np.save(buffer, mean, allow_pickle=False)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    target = args.out_dir / spec.center.name
    target.write_bytes(buffer.getvalue())
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    print(
        f"{target}: mean of {len(found)} faces ({len(skipped)} images without one), "
        f"norm {np.linalg.norm(mean):.4f}, sha256 {digest}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
