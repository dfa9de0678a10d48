"""1:K search time: one query against 100,000 enrolled embeddings.

    python bench/search.py [--gallery 100000] [--queries 200] [--dim 128] [--rule centre-or-nearest]

Builds the nearest-person recognizer (train-model --classifier nearest) on synthetic unit
vectors (10 per person around a random direction, so 10,000 people) and times
IdentityClassifier.predict, the call recognize makes, one face at a time: with SFace's rule,
the distance to each person's centre and to each enrolled face. Prints the median, 95th percentile and worst time per
query.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.classify import IdentityClassifier  # noqa: E402
from pipeline.vectors import RULES  # noqa: E402


def time_queries(
    size: int, queries: int, dim: int = 128, rule: str = "centre-or-nearest"
) -> dict[str, float]:
    """Median, p95 and worst ms of one predict() against `size` enrolled embeddings."""
    rng = np.random.default_rng(0)
    # 10 faces a person around the person's own direction, about 0.7 apart like real photos
    centres = rng.standard_normal((size // 10 + 1, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    gallery = centres[np.arange(size) // 10] + 0.025 * rng.standard_normal((size, dim)).astype(
        np.float32
    )
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    names = [f"person_{i // 10:05d}" for i in range(size)]
    t0 = time.perf_counter()
    model = IdentityClassifier(1.08, 0.0, method="nearest", rule=rule).fit(gallery, names)
    fit_s = time.perf_counter() - t0
    picks = rng.integers(0, size, queries)
    probes = gallery[picks] + 0.02 * rng.standard_normal((queries, dim)).astype(np.float32)
    probes /= np.linalg.norm(probes, axis=1, keepdims=True)
    model.predict(probes[:1])  # warm-up
    times, right = [], 0
    for q, pick in zip(probes, picks, strict=True):
        t = time.perf_counter()
        [match] = model.predict(q[None])
        times.append((time.perf_counter() - t) * 1000)
        right += match.name == names[pick]
    ms = np.array(times)
    return {
        "gallery": size,
        "people": len(set(names)),
        "fit_s": fit_s,
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "worst_ms": float(ms.max()),
        "right": right,
        "queries": queries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=128, help="128: SFace, 512: FaceNet")
    parser.add_argument("--rule", default="centre-or-nearest", choices=RULES)
    args = parser.parse_args()
    r = time_queries(args.gallery, args.queries, args.dim, args.rule)
    print(
        f"gallery {r['gallery']} x {args.dim}, {r['people']} people, rule {args.rule}, "
        f"fit {r['fit_s']:.2f} s"
    )
    print(
        f"one query: median {r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, "
        f"worst {r['worst_ms']:.2f} ms; {r['right']}/{r['queries']} named right"
    )


if __name__ == "__main__":
    main()
