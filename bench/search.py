"""1:K search time: one query against 100,000 enrolled 512-d embeddings.

    python bench/search.py [--gallery 100000] [--queries 200]

Builds the nearest-face recognizer (train-model --classifier nearest) on random unit vectors
(10 per person) and times IdentityClassifier.predict, the call recognize makes, one face at a
time. Prints the median, 95th percentile and worst time per query.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.classify import IdentityClassifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gallery", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--dim", type=int, default=512)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    gallery = rng.standard_normal((args.gallery, args.dim)).astype(np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    names = [f"person_{i // 10:05d}" for i in range(args.gallery)]
    t0 = time.perf_counter()
    model = IdentityClassifier(1.08, 0.0, method="nearest").fit(gallery, names)
    fit_s = time.perf_counter() - t0
    picks = rng.integers(0, args.gallery, args.queries)
    queries = gallery[picks] + 0.02 * rng.standard_normal((args.queries, args.dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    model.predict(queries[:1])  # warm-up
    times, right = [], 0
    for q, pick in zip(queries, picks, strict=True):
        t = time.perf_counter()
        [match] = model.predict(q[None])
        times.append((time.perf_counter() - t) * 1000)
        right += match.name == names[pick]
    ms = np.array(times)
    print(f"gallery {args.gallery} x {args.dim}, {len(set(names))} people, fit {fit_s:.2f} s")
    print(f"one query: median {np.median(ms):.2f} ms, p95 {np.percentile(ms, 95):.2f} ms, "
          f"worst {ms.max():.2f} ms; {right}/{args.queries} named right")  # fmt: skip


if __name__ == "__main__":
    main()
