"""Speed, side by side: the naive seed-style loop (bench/naive.py) against the real pipeline.

    python bench/speed.py [--repeat 18] [--json]

One process, same machine, same models, same inputs:
- extract: dataset/ photos copied `--repeat` times (198 images by default) into a temporary
  folder-per-person dataset; the naive loop embeds the best face of each image one at a time,
  the pipeline runs extract-embeddings (prefetch thread, batched embedder, SQLite store).
- video: the Hamilton clip (275 frames). Both name every face against a recognizer trained on
  dataset/. The pipeline runs twice: frame by frame (--detect-every 1) and as shipped
  (tracking, --detect-every 3); the shipped run's names are compared frame by frame with the
  frame-by-frame run.
- search: one query against 100,000 enrolled 512-d embeddings (bench/search.py).
Prints images/s, frames/s, ms per embedded face, peak memory (RSS sampled every 5 ms) and
the ratios. Numbers in README "Performance" come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from naive import NaiveLoop  # noqa: E402

from pipeline.evaluate import embed_paths  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.imageio import iter_dataset  # noqa: E402
from pipeline.recognizer import FaceRecognizer  # noqa: E402
from pipeline.store import EmbeddingStore  # noqa: E402
from pipeline.train import fit_classifier  # noqa: E402
from pipeline.video import recognize_video  # noqa: E402

CLIP = ROOT / "examples" / "short_hamilton_clip.mp4"
_PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Highest resident memory (MB) seen while the block runs, sampled every 5 ms."""

    def __enter__(self) -> PeakRss:
        self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @staticmethod
    def _rss() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE / 2**20

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak RSS MB)."""
    with PeakRss() as mem:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return result, seconds, mem.peak


def bench_extract(naive: NaiveLoop, recognizer: FaceRecognizer, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "dataset"
        for rep in range(repeat):
            for item in iter_dataset(ROOT / "dataset"):
                (data / item.person).mkdir(parents=True, exist_ok=True)
                shutil.copy(item.path, data / item.person / f"r{rep:02d}_{item.path.name}")
        paths = [i.path for i in iter_dataset(data)]
        naive.extract(paths[:2])  # warm-up, both sides
        recognizer.embed_images([cv2.imread(str(paths[0]))])
        found, naive_s, naive_mb = timed(lambda: naive.extract(paths))
        with EmbeddingStore(Path(tmp) / "e.db", recognizer.embedder.id, 512) as store:
            report, ours_s, ours_mb = timed(lambda: extract_embeddings(data, store, recognizer))
    n = len(paths)
    return {
        "images": n,
        "naive": {"images_per_s": n / naive_s, "faces": len(found),
                  "ms_per_face": 1000 * naive_s / max(len(found), 1), "peak_mb": naive_mb},
        "pipeline": {"images_per_s": n / ours_s, "faces": report.embedded,
                     "ms_per_face": 1000 * ours_s / max(report.embedded, 1), "peak_mb": ours_mb},
        "ratio": naive_s / ours_s,
    }  # fmt: skip


def _names(faces: list[Any]) -> tuple[str, ...]:
    return tuple(sorted(f.match.name for f in faces if f.match.name is not None))


def bench_video(naive: NaiveLoop, recognizer: FaceRecognizer) -> dict[str, Any]:
    items = list(iter_dataset(ROOT / "dataset"))
    found, _ = embed_paths(recognizer, [i.path for i in items])
    names = [i.person for i in items if i.path in found]
    gallery = np.concatenate([found[i.path] for i in items if i.path in found])
    spec = recognizer.embedder.spec
    recognizer.classifier = fit_classifier(gallery, names, spec.max_distance, spec.min_probability)
    svm = recognizer.classifier

    def seed_name(vec: np.ndarray) -> str:  # the seed: argmax of the SVM, no unknown check
        assert svm.svm is not None
        return svm.classes_[int(svm.svm.predict_proba(vec[None]).argmax())]

    naive_frames, naive_s, naive_mb = timed(lambda: naive.video(str(CLIP), seed_name))
    runs: dict[int, dict[str, Any]] = {}
    for every in (1, 3):
        per_frame: list[tuple[str, ...]] = []
        report, seconds, mb = timed(
            lambda every=every, per_frame=per_frame: recognize_video(
                str(CLIP), recognizer, None, False, None,
                lambda _i, faces: per_frame.append(_names(faces)), every,
            )
        )  # fmt: skip
        runs[every] = {"fps": report.frames / seconds, "frames": report.frames,
                       "faces_embedded": report.faces_embedded, "latency_ms": report.latency_ms,
                       "latency_ms_p95": report.latency_ms_p95, "peak_mb": mb,
                       "names": report.names, "per_frame": per_frame}  # fmt: skip
    agree = sum(a == b for a, b in zip(runs[1]["per_frame"], runs[3]["per_frame"], strict=True))
    frames = len(naive_frames)
    out = {
        "frames": frames,
        "naive": {"fps": frames / naive_s, "peak_mb": naive_mb,
                  "faces_embedded": sum(len(f) for f in naive_frames)},
        "pipeline_every_frame": {k: v for k, v in runs[1].items() if k != "per_frame"},
        "pipeline": {k: v for k, v in runs[3].items() if k != "per_frame"},
        "agreement_with_every_frame": agree / max(frames, 1),
    }  # fmt: skip
    out["ratio"] = out["pipeline"]["fps"] / out["naive"]["fps"]
    out["ratio_every_frame"] = out["pipeline_every_frame"]["fps"] / out["naive"]["fps"]
    recognizer.classifier = None
    return out


def bench_threads(recognizer: FaceRecognizer) -> dict[str, float]:
    """FaceNet ms per face in batches of 8 with 1 and 2 OpenCV threads."""
    crops = np.random.default_rng(0).integers(0, 255, (16, 160, 160, 3), dtype=np.uint8)
    out = {}
    before = cv2.getNumThreads()
    for threads in (1, 2):
        cv2.setNumThreads(threads)
        recognizer.embedder.embed(crops[:8])
        start = time.perf_counter()
        recognizer.embedder.embed(crops)
        out[f"threads_{threads}"] = 1000 * (time.perf_counter() - start) / len(crops)
    cv2.setNumThreads(before)
    return out


def bench_search() -> dict[str, float]:
    from search import time_queries

    return time_queries(100_000, 200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=18, help="copies of dataset/ (11 photos)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    recognizer = FaceRecognizer.from_models_dir()
    naive = NaiveLoop()
    doc = {
        "cpus": os.cpu_count(),
        "opencv_threads": cv2.getNumThreads(),
        "extract": bench_extract(naive, recognizer, args.repeat),
        "video": bench_video(naive, recognizer),
        "embedder_ms_per_face": bench_threads(recognizer),
        "search_100k": bench_search(),
    }
    if args.json:
        print(json.dumps(doc, indent=2, default=float))
        return
    e, v, s = doc["extract"], doc["video"], doc["search_100k"]
    print(f"{doc['cpus']} CPUs, OpenCV {cv2.__version__}, {doc['opencv_threads']} threads")
    print(f"extract, {e['images']} images:")
    for side in ("naive", "pipeline"):
        x = e[side]
        print(f"  {side:9s} {x['images_per_s']:6.1f} images/s  {x['ms_per_face']:5.1f} ms/face  "
              f"{x['faces']} faces  peak {x['peak_mb']:.0f} MB")  # fmt: skip
    print(f"  ratio {e['ratio']:.2f}x")
    print(f"video, {v['frames']} frames of the Hamilton clip:")
    print(f"  naive             {v['naive']['fps']:6.1f} frames/s  "
          f"{v['naive']['faces_embedded']} faces embedded  peak {v['naive']['peak_mb']:.0f} MB")  # fmt: skip
    for key, label in (("pipeline_every_frame", "every frame"), ("pipeline", "tracking (N=3)")):
        x = v[key]
        print(f"  {label:17s} {x['fps']:6.1f} frames/s  {x['faces_embedded']} faces embedded  "
              f"latency {x['latency_ms']:.0f} ms (p95 {x['latency_ms_p95']:.0f})  "
              f"peak {x['peak_mb']:.0f} MB  names {x['names']}")  # fmt: skip
    print(
        f"  ratio {v['ratio']:.2f}x (every frame: {v['ratio_every_frame']:.2f}x); "
        f"tracking agrees with every-frame names on {100 * v['agreement_with_every_frame']:.1f}% "
        "of frames"
    )
    t = doc["embedder_ms_per_face"]
    print(
        f"FaceNet, batch 8: {t['threads_1']:.1f} ms/face with 1 thread, {t['threads_2']:.1f} with 2"
    )
    print(
        f"1:K search, 100,000 x 512: median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms, "
        f"worst {s['worst_ms']:.2f} ms per query"
    )


if __name__ == "__main__":
    main()
