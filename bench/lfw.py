"""LFW verification for every embedder and crop variant, one table: the figures behind the defaults.

    python bench/lfw.py                      # the variants below, on ../shared/data/lfw-dev
    python bench/lfw.py --root DIR --pairs pairs.txt --variant facenet --variant dlib
    python bench/lfw.py --json

Faces are detected once (the shipped detector and O-Net); each variant then crops and embeds
them its own way. Figures are computed exactly as `facerec evaluate-pairs` does (pipeline/
evaluate.py): LFW protocol accuracy (threshold chosen on the other folds), accuracy at the
embedder's shipped 1:1 threshold, AUC, TAR at FAR 1e-3, EER. A pair without a face counts wrong.

A variant is `EMBEDDER[:key=value,...]`, keys: crop (box|detector|align5|dlib5), margin,
flip (0|1), center (0|1: subtract the shipped mean face vector), prewhiten (0|1: FaceNet's
per-image standardisation instead of the fixed one), largest (1: the largest face of each image
instead of the main one), landmarks (yunet: the detector's own 5 points instead of O-Net's).
`A+B` fuses two variants measured in the same run: each one's pair distances are z-scored over
all pairs (no labels used) and the two averaged.
Skips (exit 0) when the LFW folder is absent: a clone has no ../shared.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer, main_face  # noqa: E402
from pipeline.embedders import load_embedder  # noqa: E402
from pipeline.evaluation import metrics  # noqa: E402
from pipeline.evaluation.pairsfile import read_pairs  # noqa: E402
from pipeline.evaluation.verification import decided_right, kfold_with_missing, pair_distances  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402
from pipeline.modelfiles import ModelFiles  # noqa: E402

LFW_DEV = ROOT.parent / "shared" / "data" / "lfw-dev"
VARIANTS = (
    "sface",
    "sface:landmarks=yunet",
    "sface+facenet",
    "facenet:prewhiten=1,center=0,largest=1",
    "facenet:center=0,largest=1",
    "facenet:center=0",
    "facenet",
    "facenet:flip=1",
    "facenet:margin=0.25",
    "facenet:crop=detector",
    "dlib:flip=0",
    "dlib",
)


def variant_spec(text: str) -> tuple[registry.ModelSpec, bool, bool]:
    """The embedder spec a variant string describes, whether it takes the largest face, and
    whether it aligns on the detector's own landmarks."""
    name, _, rest = text.partition(":")
    options = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
    largest = options.pop("largest", "0") == "1"
    detector_points = options.pop("landmarks", "onet") == "yunet"
    spec = registry.embedder_spec(
        name, options.pop("crop", None), _float(options.pop("margin", None))
    )
    if "flip" in options:
        spec = dataclasses.replace(spec, flip=options.pop("flip") == "1")
    if options.pop("prewhiten", "0") == "1":
        spec = dataclasses.replace(spec, standardize=True, mean=(0.0,) * 3, scale=1.0)
    if options.pop("center", "1") == "0":
        spec = dataclasses.replace(spec, center=None)
    if options:
        raise SystemExit(f"unknown variant options: {', '.join(options)}")
    return spec, largest, detector_points


def pick(image: np.ndarray, found: list, largest: bool):  # noqa: ANN201
    """The face a variant embeds: the main face (as the product does), or the largest."""
    if largest:
        return max(found, key=lambda d: d.area)
    return main_face(found, image.shape[1], image.shape[0])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _zscored(d: np.ndarray) -> np.ndarray:
    ok = ~np.isnan(d)
    return (d - d[ok].mean()) / d[ok].std()


def _detector_points(face, detected):  # noqa: ANN001, ANN202
    """The detector's own landmarks for the face O-Net refined (it keeps the detector's box)."""
    return next(d.landmarks for d in detected if np.array_equal(d.box, face.box))


def _float(value: str | None) -> float | None:
    return None if value is None else float(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=LFW_DEV / "images")
    parser.add_argument("--pairs", type=Path, default=LFW_DEV / "pairs.txt")
    parser.add_argument("--variant", action="append", help="repeatable; default: a set of variants")
    parser.add_argument("--detector", default=None, help="ssd or yunet (default: the embedder's)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not args.pairs.is_file():
        print(f"skipped: {args.pairs} not found (LFW dev folds live in ../shared)")
        return 0
    pairs = read_pairs(args.pairs, args.root)
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    base = FaceRecognizer.from_models_dir(detector=args.detector)
    images, found, raw = {}, {}, {}
    start = time.perf_counter()
    for path in paths:
        images[path] = read_image(path)
        found[path] = base.find_faces(images[path])
        raw[path] = base.detector.detect(images[path])  # the detector's own landmarks
    faces = {p: f for p, f in found.items() if f}
    print(
        f"{len(paths)} images, {len(faces)} with a face, detected in "
        f"{time.perf_counter() - start:.0f} s",
        file=sys.stderr,
    )
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    rows, nets, measured = [], {}, {}
    for text in args.variant or VARIANTS:
        if "+" in text:
            parts = text.split("+")
            if not all(part in measured for part in parts):
                print(f"{text}: measure {' and '.join(parts)} first", file=sys.stderr)
                continue
            d = np.nanmean([_zscored(measured[part][0]) for part in parts], axis=0)
            missing = measured[parts[0]][1]
            spec = replace(measured[parts[0]][2], verify_distance=float("nan"))
            seconds = sum(measured[part][3] for part in parts)
            vectors = {p: None for p in faces}
        else:
            spec, largest, detector_points = variant_spec(text)
            try:
                embedder = nets.get(spec) or load_embedder(spec, ModelFiles())
            except registry.ModelError as err:
                print(f"{text}: not available ({err})", file=sys.stderr)
                continue
            nets[spec] = embedder
            start = time.perf_counter()
            vectors = {}
            for p in faces:
                face = pick(images[p], faces[p], largest)
                if detector_points:
                    face = replace(face, landmarks=_detector_points(face, raw[p]))
                vectors[p] = embedder.embed(embedder.crops(images[p], [face]))
            seconds = time.perf_counter() - start
            d, missing = pair_distances(pairs, vectors, {})
            measured[text] = (d, missing, spec, seconds)
        ok = ~np.isnan(d)
        fold = kfold_with_missing(d, same, folds)
        row = {
            "variant": text,
            "embedder": spec.id,
            "pairs": len(pairs),
            "missing": len(missing),
            "accuracy_lfw": round(fold.mean, 4),
            "accuracy_lfw_std": round(fold.std, 4),
            "threshold_lfw": round(float(np.mean(fold.thresholds)), 3),
            "threshold_default": None if np.isnan(spec.verify_distance) else spec.verify_distance,
            "accuracy_at_default": round(
                float(decided_right(d, same, spec.verify_distance).mean()), 4
            )
            if spec.verify_distance == spec.verify_distance
            else None,
            "auc": round(metrics.roc_auc(d[ok], same[ok]), 4),
            "tar_at_far_1e-3": round(metrics.tar_at_far(d[ok], same[ok], 1e-3), 4),
            "eer": round(metrics.equal_error_rate(d[ok], same[ok]), 4),
            "ms_per_face": round(1000 * seconds / max(len(vectors), 1), 1),
        }
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| variant | LFW protocol | at default (threshold) | AUC | TAR@FAR1e-3 | EER | ms/face |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['variant']} | {r['accuracy_lfw']:.2%} +- {r['accuracy_lfw_std']:.2%} "
            f"(t={r['threshold_lfw']}) | {_pct(r['accuracy_at_default'])} ({r['threshold_default']}) "
            f"| {r['auc']:.4f} | {r['tar_at_far_1e-3']:.1%} | {r['eer']:.2%} | {r['ms_per_face']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
