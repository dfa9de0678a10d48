"""Would micro-batching embeddings across concurrent requests pay? FaceNet's cost per face at
batch sizes 1, 2, 4, 8 and 16, per runtime, on real face crops.

    python bench/batching.py [--runs 5]

A server request carries 1-6 faces and already embeds them in one batch; batching across
requests would only pay if the per-face cost fell clearly with the batch size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402
from pipeline.runtimes import available  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    crops = []
    probe = FaceRecognizer.from_models_dir(backend="opencv")
    for path in sorted((ROOT / "tests" / "data" / "bbt").glob("bbt*.jpg")):
        image = read_image(path)
        found = probe.find_faces(image)
        crops.append(probe.embedder.crops(image, found))
    pool = np.concatenate(crops)[:16]
    print(f"{len(pool)} face crops from the bbt group photos")
    for backend in [b for b in ("opencv", "openvino") if available(b)]:
        embedder = FaceRecognizer.from_models_dir(backend=backend).embedder
        embedder.embed(pool[:1])  # first call allocates
        line = []
        for size in (1, 2, 4, 8, 16):
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                for k in range(0, 16, size):
                    embedder.embed(pool[k : k + size])
                times.append((time.perf_counter() - start) / 16 * 1000)
            line.append(f"batch {size:>2}: {min(times):5.1f} ms/face")
        print(f"{backend:>8}: " + "  ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
