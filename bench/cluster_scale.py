"""How clustering time grows with the number of faces: 1,000, 5,000 and 10,000 faces.

    python bench/cluster_scale.py [--sizes 1000 5000 10000] [--runs 3] [--method whispers+centres]

Faces are synthetic and jittered: a "person" (a random unit vector of the default embedder's
size) per 5 faces, each face drawn around a random person (Gaussian noise, so that a person's
photos lie about 0.8 apart, as real photos of one person do), unit-normalised. Only the clustering is timed
(the embedding is extraction's cost, measured in bench/speed.py). Target: 10,000 faces in
under 10 s on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.library.cluster import DEFAULT_METHOD, METHODS, cluster_vectors, score_clusters  # noqa: E402
from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec  # noqa: E402


def synthetic(faces: int, dim: int, seed: int = 0, apart: float = 0.8):  # noqa: ANN201
    people = faces // 5
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((people, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    who = rng.integers(0, people, faces)
    # two draws around one centre lie about `apart` apart once unit-normalised
    sigma = apart / np.sqrt(dim * (2.0 - apart * apart))
    noisy = centres[who] + rng.standard_normal((faces, dim)) * sigma
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32), who


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000, 10000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--method", default=DEFAULT_METHOD, choices=METHODS)
    args = ap.parse_args()
    spec = embedder_spec(DEFAULT_EMBEDDER)
    cut = spec.cluster_distance
    print(f"{spec.id}: method {args.method}, cut {cut}")
    for n in args.sizes:
        vectors, who = synthetic(n, spec.output_dim)
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            labels = cluster_vectors(vectors, cut, args.method)
            times.append(time.perf_counter() - start)
        score = score_clusters(labels, [str(w) for w in who])
        order = np.argsort(who, kind="stable")
        same = who[order][1:] == who[order][:-1]
        gaps = np.linalg.norm(vectors[order][1:] - vectors[order][:-1], axis=1)[same]
        lo, hi = np.percentile(gaps, [5, 95])
        print(
            f"{n:>6} faces: {min(times):6.2f}-{max(times):6.2f} s  (BCubed P {score.bcubed_precision:.3f} "
            f"R {score.bcubed_recall:.3f}; one person's photos {lo:.2f}-{hi:.2f} apart, 5-95%)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
