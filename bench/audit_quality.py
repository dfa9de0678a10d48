"""What a small or turned face costs in recognition, to set `facerec audit`'s poor-face limits
(pipeline/audit/run.py: MIN_FACE, MAX_TURN) by measurement on the LFW dev gallery.

A face counts as named right when its own person (its other photos, itself left out, by the
embedder's 1:K rule) is within the 1:K ceiling and nearer than anyone else. Turn: every photo
of the people with 3 or more, binned by the nose's offset from the eyes' midpoint (in eye
distances). Size: frontal photos shrunk until the face's shorter box side is S pixels, then
compared with the person's other photos at full size. Blur and darkness: frontal photos
blurred (Gaussian, sigma a fraction of the face) or darkened step by step; the limit is the
sharpness or brightness (facequality.py) below which fewer than 90% are named right. Each
limit is chosen on two folds' people and checked on the third.

    python bench/audit_quality.py [--sample 300]          # ~10 minutes
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LFW = ROOT.parent / "shared" / "data" / "lfw-dev" / "gallery"

from pipeline.audit import checks  # noqa: E402
from pipeline.audit.run import load_gallery  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.facequality import face_quality  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402
from pipeline.stores import open_store  # noqa: E402
from pipeline.vectors import pairwise_distances  # noqa: E402

TURNS = [0.0, 0.15, 0.25, 0.35, 0.45, 0.55, 0.7, 10.0]
SIDES = [16, 20, 24, 28, 32, 40, 56]
GOOD = 0.90


def named_right(face, vectors, mine, others, spec) -> bool:
    """Whether a face's own person (their other photos) is within the 1:K ceiling and nearer
    than anyone else: named right."""
    d = pairwise_distances(face, vectors)[0]
    return bool(d[mine].min() <= spec.max_distance and d[mine].min() < d[others].min())


def fold_of(person: str) -> int:
    return int(hashlib.sha256(person.encode()).hexdigest(), 16) % 3


def first_bad(rates: list[tuple[float, float, int]]) -> float | None:
    """The first bin edge (in order) whose share named right is under GOOD."""
    for edge, rate, n in rates:
        if n >= 10 and rate < GOOD:
            return edge
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sample", type=int, default=300, help="frontal photos shrunk per size")
    a = ap.parse_args()
    if not LFW.is_dir():
        print(f"skipped: {LFW} is absent")
        return
    recognizer = FaceRecognizer.from_models_dir()
    spec = recognizer.embedder.spec
    with (
        tempfile.TemporaryDirectory() as tmp,
        open_store(
            Path(tmp) / "e.db", spec.id, spec.output_dim, recognizer.detector.spec.id
        ) as store,
    ):
        extract_embeddings(LFW, store, recognizer)
        gallery = load_gallery(store)
    near = checks.nearness(gallery, spec.rule)
    names, pid = gallery.person_ids()
    counts = np.bincount(pid)
    rich = counts[pid] >= 3
    right = (near.own <= spec.max_distance) & (near.own < near.other)
    turn = np.array([checks.turn_of(f.landmarks) or 0.0 for f in gallery.facts])
    folds = np.array([fold_of(p) for p in gallery.people])
    out: dict = {
        "photos": int(rich.sum()),
        "named_right_overall": round(float(right[rich].mean()), 4),
    }

    def turn_rates(rows: np.ndarray) -> list[tuple[float, float, int]]:
        rates = []
        for lo, hi in zip(TURNS, TURNS[1:], strict=False):
            m = rows & rich & (turn >= lo) & (turn < hi)
            rates.append((lo, float(right[m].mean()) if m.any() else 1.0, int(m.sum())))
        return rates

    out["turn"] = {"all": [(lo, round(r, 4), n) for lo, r, n in turn_rates(np.ones_like(rich))]}
    out["turn"]["folds"] = [
        {
            "held_out": k + 1,
            "chosen_on_the_others": first_bad(turn_rates(folds != k)),
            "there": first_bad(turn_rates(folds == k)),
        }
        for k in range(3)
    ]

    rng = np.random.default_rng(0)
    frontal = np.flatnonzero(rich & (turn < 0.15) & right)
    sample = rng.choice(frontal, min(a.sample, len(frontal)), replace=False)
    by_size: dict[int, list[tuple[int, bool | None]]] = {s: [] for s in SIDES}
    for i in sample:
        box = gallery.boxes[i]
        if box is None:
            continue
        side = min(box[2] - box[0], box[3] - box[1])
        image = read_image(LFW / gallery.relpaths[i])
        mine = (pid == pid[i]) & (np.arange(len(pid)) != i)
        for s in SIDES:
            scale = s / side
            if scale >= 1:
                continue
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            [faces] = recognizer.embed_images([small])
            if not faces.detections:
                by_size[s].append((int(folds[i]), None))
                continue
            ok = named_right(faces.embeddings[:1], gallery.vectors, mine, pid != pid[i], spec)
            by_size[s].append((int(folds[i]), ok))

    def smallest_good(keep: set[int]) -> int | None:
        """The smallest size at and above which every size names GOOD of its faces."""
        good = None
        for s in sorted(SIDES, reverse=True):
            got = [ok for f, ok in by_size[s] if f in keep]
            if got and sum(1 for ok in got if ok) / len(got) < GOOD:
                break
            good = s
        return good

    out["size"] = {
        "all": {
            s: {
                "faces": len(v),
                "not_found": sum(ok is None for _, ok in v),
                "named_right": round(sum(1 for _, ok in v if ok) / max(1, len(v)), 4),
            }
            for s, v in by_size.items()
        },
        "folds": [
            {
                "held_out": k + 1,
                "chosen_on_the_others": smallest_good({0, 1, 2} - {k}),
                "there": smallest_good({k}),
            }
            for k in range(3)
        ],
    }
    out["blur"], out["dark"] = degrade_sweeps(
        recognizer, gallery, pid, folds, frontal, rng, a.sample
    )
    print(json.dumps(out, indent=1))


BLUR = [0.0, 0.01, 0.02, 0.03, 0.045, 0.06, 0.08, 0.11]  # Gaussian sigma, a fraction of the face
DARK = [1.0, 0.5, 0.3, 0.2, 0.14, 0.1, 0.07, 0.05]  # every pixel times this


def degrade_sweeps(recognizer, gallery, pid, folds, frontal, rng, sample) -> tuple[dict, dict]:
    """Frontal photos blurred or darkened step by step; each face's sharpness or brightness as
    stored (facequality.py) against whether it is still named right."""
    spec = recognizer.embedder.spec
    blur: list[tuple[int, float, bool]] = []
    dark: list[tuple[int, float, bool]] = []
    for i in rng.choice(frontal, min(sample, len(frontal)), replace=False):
        box = gallery.boxes[i]
        if box is None:
            continue
        side = min(box[2] - box[0], box[3] - box[1])
        image = read_image(LFW / gallery.relpaths[i])
        mine = (pid == pid[i]) & (np.arange(len(pid)) != i)
        variants = [
            ("blur", cv2.GaussianBlur(image, (0, 0), f * side) if f else image) for f in BLUR
        ]
        variants += [
            ("dark", np.clip(image.astype(np.float32) * k, 0, 255).astype(np.uint8)) for k in DARK
        ]
        for kind, picture in variants:
            [faces] = recognizer.embed_images([picture])
            if not faces.detections:
                ok, quality = False, face_quality(picture, box)
            else:
                ok = named_right(faces.embeddings[:1], gallery.vectors, mine, pid != pid[i], spec)
                quality = face_quality(picture, faces.detections[0].box)
            if quality is not None:
                (blur if kind == "blur" else dark).append(
                    (int(folds[i]), quality[kind == "dark"], ok)
                )
    return limit_by_folds(blur), limit_by_folds(dark)


def limit_by_folds(samples: list[tuple[int, float, bool]]) -> dict:
    """The value below which faces start to be named right less than GOOD of the time, chosen
    on two folds' faces and checked on the third (the faces below it there, and how many of
    them were named right)."""

    def limit(keep: set[int], window: int = 100) -> tuple[float | None, float | None, int]:
        """Scanning down from the sharpest (brightest) faces, 100 at a time: the top of the
        first window named right less than GOOD of the time."""
        values = sorted((v, ok) for f, v, ok in samples if f in keep)
        for start in range(len(values) - window, -1, -1):
            named = sum(ok for _, ok in values[start : start + window]) / window
            if named < GOOD:
                return values[start + window - 1][0], round(named, 4), start + window
        return None, None, 0

    out = {"faces": len(samples), "all": limit({0, 1, 2})}
    out["folds"] = []
    for k in range(3):
        chosen = limit({0, 1, 2} - {k})[0]
        held = [(v, ok) for f, v, ok in samples if f == k and chosen is not None and v < chosen]
        out["folds"].append(
            {
                "held_out": k + 1,
                "chosen_on_the_others": chosen,
                "faces_below_there": len(held),
                "named_right_below_there": round(sum(ok for _, ok in held) / len(held), 4)
                if held
                else None,
            }
        )
    return out


if __name__ == "__main__":
    main()
