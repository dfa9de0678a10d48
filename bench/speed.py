"""Speed, side by side: the naive seed-style loop (bench/naive.py) against the real pipeline.

    python bench/speed.py [--repeat 9] [--runs 3] [--photos DIR] [--json]

One process, same machine, same inputs:
- extract: the repository's 22 full-size photos (dataset/, examples/, the bbt group photos:
  374-2333 px, one to six faces), copied `--repeat` times (198 images), plus any `--photos`;
  `--runs` times side by side: the naive loop (PyImageSearch's scripts with the SSD and FaceNet,
  one image and one face at a time) and the pipeline's variants: the default install (SFace,
  YuNet, cv2.dnn), SFace with the design card's SSD, and FaceNet (the earlier default) alone
  and with the OpenVINO extra when installed. Model loading is inside the timing on both
  sides: users pay it.
- video: the Hamilton clip (275 frames). Both name every face against a recognizer trained on
  dataset/. The pipeline runs frame by frame (--detect-every 1), as shipped (tracking,
  --detect-every 3), and as shipped while writing the annotated WebM; the naive loop without
  and with writing one. The shipped run's names are compared frame by frame with the
  frame-by-frame run.
- search: one query against 100,000 enrolled embeddings of the default embedder (bench/search.py).
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
from unittest import mock

import cv2
import numpy as np
from sklearn.svm import SVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from naive import NaiveLoop  # noqa: E402

from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.evaluation.embedding import embed_paths  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.imageio import iter_dataset  # noqa: E402
from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec  # noqa: E402
from pipeline.runtimes import available  # noqa: E402
from pipeline.stores.sqlite import EmbeddingStore  # noqa: E402
from pipeline.train import fit_classifier  # noqa: E402
from pipeline.video import encode  # noqa: E402
from pipeline.video.stream import recognize_video  # noqa: E402

CLIP = ROOT / "examples" / "short_hamilton_clip.mp4"
DEFAULT_SPEC = embedder_spec(DEFAULT_EMBEDDER)
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


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, seconds, peak RSS MB)."""
    with PeakRss() as mem:
        start = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - start
    return result, seconds, mem.peak


PHOTOS = {  # the repository's full-size photos: 374-2333 px, one to six faces
    "dataset": "*/*",
    "examples": "*.jpg",
    "tests/data/bbt": "*.jpg",
}


def photo_set(dest: Path, repeat: int, extra: Path | None) -> list[Path]:
    """A folder-per-person dataset of full-size photos copied `repeat` times (not face crops:
    users' photos are hundreds to thousands of pixels with several faces in some)."""
    sources = [
        p for folder, pattern in PHOTOS.items() for p in sorted((ROOT / folder).glob(pattern))
    ]
    if extra is not None:
        sources += sorted(p for p in extra.rglob("*") if p.suffix.lower() in (".jpg", ".png"))
    for rep in range(repeat):
        for n, path in enumerate(sources):
            person = dest / (path.parent.name if path.parent.parent.name == "dataset" else "photos")
            person.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, person / f"r{rep:02d}_{n:03d}{path.suffix}")
    return sorted(p for p in dest.rglob("*") if p.is_file())


def _pipeline_run(
    data: Path, store: Path, embedder: str, detector: str, backend: str
) -> tuple[Any, str]:
    """Load the models (startup counts: users pay it) and extract into a new store."""
    recognizer = FaceRecognizer.from_models_dir(
        embedder=embedder, detector=detector, backend=backend
    )
    spec = recognizer.embedder.spec
    with EmbeddingStore(store, spec.id, spec.output_dim, recognizer.detector.spec.id) as opened:
        return extract_embeddings(data, opened, recognizer), recognizer.embedder.runner.name


def bench_extract(repeat: int, runs: int, extra: Path | None) -> dict[str, Any]:
    """Naive loop against the pipeline's variants, in one process, each run on the same photos.

    Variants: the default install (SFace, YuNet, cv2.dnn), the design card's SSD, and FaceNet
    (the earlier default), with the OpenVINO extra when installed (OpenVINO cannot read SFace's
    int8 file)."""
    variants = [
        ("default", "sface", "yunet", "opencv"),
        ("ssd", "sface", "ssd", "opencv"),
        ("facenet", "facenet", "yunet", "opencv"),
    ]
    if available("openvino"):
        variants.append(("facenet-ov", "facenet", "yunet", "openvino"))
    out: dict[str, Any] = {"runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "dataset"
        paths = photo_set(data, repeat, extra)
        out["images"] = len(paths)
        NaiveLoop().extract(paths[:2])  # warm the file cache and the libraries, both sides
        for run in range(runs):
            row: dict[str, Any] = {}
            found, naive_s, naive_mb = timed(lambda: NaiveLoop().extract(paths))
            row["naive"] = {
                "seconds": naive_s,
                "images_per_s": len(paths) / naive_s,
                "faces": len(found),
                "peak_mb": naive_mb,
            }
            for name, embedder, detector, backend in variants:
                store = Path(tmp) / f"{name}-{run}.db"
                (report, runner), seconds, mb = timed(
                    lambda e=embedder, d=detector, b=backend, s=store: _pipeline_run(
                        data, s, e, d, b
                    )
                )
                row[name] = {
                    "seconds": seconds,
                    "images_per_s": len(paths) / seconds,
                    "faces": report.embedded,
                    "peak_mb": mb,
                    "runtime": runner,
                    "embedder": embedder,
                    "detector": detector,
                    "ratio": naive_s / seconds,
                }
            out["runs"].append(row)
    return out


def _names(faces: list[Any]) -> tuple[str, ...]:
    return tuple(sorted(f.match.name for f in faces if f.match.name is not None))


def bench_video(naive: NaiveLoop, recognizer: FaceRecognizer) -> dict[str, Any]:
    items = list(iter_dataset(ROOT / "dataset"))
    found, _ = embed_paths(recognizer, [i.path for i in items])
    names = [i.person for i in items if i.path in found]
    gallery = np.concatenate([found[i.path] for i in items if i.path in found])
    spec = recognizer.embedder.spec
    recognizer.classifier = fit_classifier(
        gallery, names, spec.max_distance, spec.min_probability, far=spec.far, rule=spec.rule
    )
    # the seed's own gallery: its FaceNet vectors of the same photos, its SVC (train_model.py)
    seed_vectors = naive.extract([i.path for i in items])
    seed_names = [i.person for i in items if i.path in seed_vectors]
    seed_svm = SVC(C=1.0, kernel="linear", probability=True).fit(
        np.stack([seed_vectors[i.path] for i in items if i.path in seed_vectors]), seed_names
    )

    def seed_name(vec: np.ndarray) -> str:  # the seed: argmax of the SVM, no unknown check
        return str(seed_svm.classes_[int(seed_svm.predict_proba(vec[None]).argmax())])

    naive_frames, naive_s, naive_mb = timed(lambda: naive.video(str(CLIP), seed_name))
    with tempfile.TemporaryDirectory() as tmp:
        _, naive_w_s, _ = timed(lambda: naive.video(str(CLIP), seed_name, f"{tmp}/naive.webm"))
        runs: dict[int | str, dict[str, Any]] = {}
        variants = (
            (1, None),
            (3, None),
            ("webm", f"{tmp}/pipeline.webm"),
            ("webm-opencv", f"{tmp}/pipeline-cv.webm"),
        )
        for every, output in variants:
            per_frame: list[tuple[str, ...]] = []
            # "webm": FFmpeg encodes when a binary is at hand (the audio extra); "webm-opencv"
            # is the default install's OpenCV VP8 writer
            found_ffmpeg = encode.ffmpeg_exe if every != "webm-opencv" else lambda: None
            with mock.patch.object(encode, "ffmpeg_exe", found_ffmpeg):
                report, seconds, mb = timed(
                    lambda every=every, per_frame=per_frame, output=output: recognize_video(
                        str(CLIP),
                        recognizer,
                        output,
                        False,
                        None,
                        lambda _i, faces: per_frame.append(_names(faces)),
                        every if isinstance(every, int) else 3,
                    )
                )
            runs[every] = {
                "fps": report.frames / seconds,
                "frames": report.frames,
                "faces_embedded": report.faces_embedded,
                "latency_ms": report.latency_ms,
                "latency_ms_p95": report.latency_ms_p95,
                "peak_mb": mb,
                "names": report.names,
                "per_frame": per_frame,
            }
    agree = sum(a == b for a, b in zip(runs[1]["per_frame"], runs[3]["per_frame"], strict=True))
    frames = len(naive_frames)
    out = {
        "frames": frames,
        "naive": {
            "fps": frames / naive_s,
            "peak_mb": naive_mb,
            "faces_embedded": sum(len(f) for f in naive_frames),
        },
        "naive_writing_webm": {"fps": frames / naive_w_s},
        "pipeline_every_frame": {k: v for k, v in runs[1].items() if k != "per_frame"},
        "pipeline": {k: v for k, v in runs[3].items() if k != "per_frame"},
        "pipeline_writing_webm": {k: v for k, v in runs["webm"].items() if k != "per_frame"},
        "pipeline_writing_webm_opencv": {
            k: v for k, v in runs["webm-opencv"].items() if k != "per_frame"
        },
        "webm_encoder": "ffmpeg" if encode.ffmpeg_exe() else "opencv",
        "agreement_with_every_frame": agree / max(frames, 1),
    }
    out["ratio"] = out["pipeline"]["fps"] / out["naive"]["fps"]
    out["ratio_every_frame"] = out["pipeline_every_frame"]["fps"] / out["naive"]["fps"]
    out["ratio_writing"] = out["pipeline_writing_webm"]["fps"] / out["naive"]["fps"]
    out["ratio_writing_both"] = (
        out["pipeline_writing_webm"]["fps"] / out["naive_writing_webm"]["fps"]
    )
    out["ratio_writing_opencv"] = out["pipeline_writing_webm_opencv"]["fps"] / out["naive"]["fps"]
    recognizer.classifier = None
    return out


def bench_threads(recognizer: FaceRecognizer) -> dict[str, float]:
    """The embedder's ms per face in batches of 8 with 1 and 2 OpenCV threads."""
    width, height = recognizer.embedder.spec.input_size
    crops = np.random.default_rng(0).integers(0, 255, (16, height, width, 3), dtype=np.uint8)
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

    return time_queries(100_000, 200, DEFAULT_SPEC.output_dim, DEFAULT_SPEC.rule)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=9, help="copies of the 22 photos")
    parser.add_argument("--runs", type=int, default=3, help="extraction runs, side by side")
    parser.add_argument("--photos", type=Path, help="a folder of more photos to add to the set")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    recognizer = FaceRecognizer.from_models_dir(backend="opencv")  # the default install
    naive = NaiveLoop()
    doc = {
        "cpus": os.cpu_count(),
        "cpu": _cpu_name(),
        "opencv_threads": cv2.getNumThreads(),
        "extract": bench_extract(args.repeat, args.runs, args.photos),
        "video": bench_video(naive, recognizer),
        "embedder_ms_per_face": bench_threads(recognizer),
        "search_100k": bench_search(),
    }
    if args.json:
        print(json.dumps(doc, indent=2, default=float))
        return
    e, v, s = doc["extract"], doc["video"], doc["search_100k"]
    print(
        f"{doc['cpus']} CPUs ({doc['cpu']}), OpenCV {cv2.__version__}, "
        f"{doc['opencv_threads']} threads"
    )
    print(f"extract, {e['images']} full-size photos, model loading included:")
    for n, row in enumerate(e["runs"], start=1):
        for side, x in row.items():
            ratio = f"  ratio {x['ratio']:.2f}x" if "ratio" in x else ""
            how = f" ({x['embedder']}, {x['detector']}, {x['runtime']})" if "runtime" in x else ""
            print(
                f"  run {n} {side:10s}{how:30s} {x['images_per_s']:6.1f} images/s  "
                f"{x['faces']} faces  peak {x['peak_mb']:.0f} MB{ratio}"
            )
    for side in [k for k in e["runs"][0] if k != "naive"]:
        ratios = [row[side]["ratio"] for row in e["runs"]]
        print(f"  {side}: {min(ratios):.2f}-{max(ratios):.2f}x the naive loop ({len(ratios)} runs)")
    print(f"video, {v['frames']} frames of the Hamilton clip:")
    print(
        f"  naive             {v['naive']['fps']:6.1f} frames/s  "
        f"{v['naive']['faces_embedded']} faces embedded  peak {v['naive']['peak_mb']:.0f} MB"
    )
    print(f"  naive, writing a WebM {v['naive_writing_webm']['fps']:6.1f} frames/s")
    for key, label in (
        ("pipeline_every_frame", "every frame"),
        ("pipeline", "tracking (N=3)"),
        ("pipeline_writing_webm", f"+ WebM ({v['webm_encoder']})"),
        ("pipeline_writing_webm_opencv", "+ WebM (opencv)"),
    ):
        x = v[key]
        print(
            f"  {label:17s} {x['fps']:6.1f} frames/s  {x['faces_embedded']} faces embedded  "
            f"latency {x['latency_ms']:.0f} ms (p95 {x['latency_ms_p95']:.0f})  "
            f"peak {x['peak_mb']:.0f} MB  names {x['names']}"
        )
    print(
        f"  ratio {v['ratio']:.2f}x (every frame: {v['ratio_every_frame']:.2f}x; writing the "
        f"WebM: {v['ratio_writing']:.2f}x the naive loop, {v['ratio_writing_both']:.2f}x the "
        f"naive loop writing one too; OpenCV's encoder: {v['ratio_writing_opencv']:.2f}x); "
        f"tracking agrees with every-frame names on {100 * v['agreement_with_every_frame']:.1f}% "
        "of frames"
    )
    t = doc["embedder_ms_per_face"]
    print(
        f"{recognizer.embedder.spec.id}, batch 8: {t['threads_1']:.1f} ms/face with 1 thread, "
        f"{t['threads_2']:.1f} with 2"
    )
    print(
        f"1:K search, 100,000 x {DEFAULT_SPEC.output_dim} ({DEFAULT_SPEC.rule}): median {s['median_ms']:.2f} ms, p95 {s['p95_ms']:.2f} ms, "
        f"worst {s['worst_ms']:.2f} ms per query"
    )


if __name__ == "__main__":
    main()
