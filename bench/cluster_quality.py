"""How well faces group into people without labels, with the method and the cut chosen by
cross-validation over the LFW dev folds' people: chosen on two folds, scored on the third.

    python bench/cluster_quality.py [--embedder sface] [--methods average whispers ...]
                                    [--cuts 0.95 1.0 ...] [--json]

The faces are the main face of every image of `gallery/` (every LFW image of the dev folds'
1,241 people) and of `strangers/` (1,548 images of 1,467 people in no fold, split in three parts
by name), embedded once into output/openset-bench/ (shared with bench/openset.py). Precision
falls as a library grows (more strangers side by side at the same cut), so the choice is made
on two folds' faces together with two stranger parts (about 3,400 faces of 1,800 people) and
scored on the third fold with the third part (about 1,500 faces of 900 people): the (method,
cut) with the best BCubed F1 among those whose BCubed precision is at least PRECISION_FLOOR.
The shipped default is the choice on everything together (4,869 faces of 2,708 people). The repository's faces (tests/data/bbt/<person>/ and
dataset/: 14 people, 51 faces) are scored at the shipped setting. Skips LFW when ../shared is
absent.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from openset import LFW, OUT, embedded, people_folds  # noqa: E402

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.library.cluster import METHODS, cluster_vectors, score_clusters  # noqa: E402

PRECISION_FLOOR = 0.995


def repo_faces() -> Path:
    """tests/data/bbt/<person>/ and dataset/<person>/ side by side in one folder."""
    folder = OUT / "repo"
    if not folder.is_dir():
        for base in (ROOT / "tests" / "data" / "bbt", ROOT / "dataset"):
            for person in sorted(p for p in base.iterdir() if p.is_dir()):
                shutil.copytree(person, folder / person.name)
    return folder


def score(vectors: np.ndarray, names: np.ndarray, method: str, cut: float) -> dict:
    start = time.perf_counter()
    labels = cluster_vectors(vectors, cut, method)
    seconds = time.perf_counter() - start
    return score_clusters(labels, list(names)).to_dict() | {"seconds": round(seconds, 3)}


def choose(
    table: dict, folds: list[tuple[int, ...]], grid: list[tuple[str, float]]
) -> tuple[str, float]:
    """The (method, cut) with the best mean F1 on `folds` among those keeping the mean
    precision at PRECISION_FLOOR or above (failing that, the most precise)."""

    def mean(key: str, cand: tuple[str, float]) -> float:
        return float(np.mean([table[(f, *cand)][key] for f in folds]))

    ok = [c for c in grid if mean("bcubed_precision", c) >= PRECISION_FLOOR]
    if not ok:
        return max(grid, key=lambda c: mean("bcubed_precision", c))
    return max(ok, key=lambda c: (round(mean("bcubed_f1", c), 4), -c[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--embedder", default=registry.DEFAULT_EMBEDDER, choices=sorted(registry.EMBEDDERS)
    )
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument(
        "--cuts",
        nargs="+",
        type=float,
        help="default: the embedder's cut -0.15 to +0.15 in steps of 0.025",
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = registry.embedder_spec(args.embedder)
    cuts = args.cuts or [round(spec.cluster_distance + 0.025 * i, 3) for i in range(-6, 7)]
    recognizer = FaceRecognizer.from_models_dir(embedder=spec)
    repo_names, repo_x = embedded(repo_faces(), OUT / f"repo-{args.embedder}.db", recognizer)
    doc: dict = {
        "embedder": spec.id,
        "shipped_cut": spec.cluster_distance,
        "precision_floor": PRECISION_FLOOR,
    }
    grid = [(m, c) for m in args.methods for c in cuts]
    if (LFW / "gallery").is_dir():
        names, x = embedded(LFW / "gallery", OUT / f"gallery-{args.embedder}.db", recognizer)
        snames, sx = embedded(LFW / "strangers", OUT / f"strangers-{args.embedder}.db", recognizer)
        fold_of = people_folds(LFW / "pairs.txt")
        order = sorted(set(snames))
        parts = {n: i % 3 for i, n in enumerate(order)}
        folds = np.concatenate([[fold_of.get(n, -1) for n in names], [parts[n] for n in snames]])
        names, x = np.concatenate([names, snames]), np.concatenate([x, sx])

        def faces_of(chosen: list[int]) -> np.ndarray:
            return np.isin(folds, chosen)

        sets = {
            tuple(f for f in range(3) if f != held): faces_of([g for g in range(3) if g != held])
            for held in range(3)
        }
        sets |= {(f,): faces_of([f]) for f in range(3)} | {(0, 1, 2): faces_of([0, 1, 2])}
        table = {
            (key, m, c): score(x[mask], names[mask], m, c)
            for key, mask in sets.items()
            for m, c in grid
        }
        doc["held_out"] = []
        for held in range(3):
            tune = tuple(f for f in range(3) if f != held)
            method, cut = choose(table, [tune], grid)
            mask = sets[(held,)]
            doc["held_out"].append(
                {
                    "fold": held + 1,
                    "faces": int(mask.sum()),
                    "people": len(set(names[mask])),
                    "method": method,
                    "cut": cut,
                }
                | table[((held,), method, cut)]
            )
        method, cut = choose(table, [(0, 1, 2)], grid)
        everything = sets[(0, 1, 2)]
        doc["chosen_on_all_folds"] = {
            "method": method,
            "cut": cut,
            "faces": int(everything.sum()),
            "people": len(set(names[everything])),
        } | table[((0, 1, 2), method, cut)]
        doc["grid"] = [
            {"folds": [f + 1 for f in key], "method": m, "cut": c} | table[(key, m, c)]
            for key, m, c in sorted(table)
        ]
    else:
        print(f"LFW skipped: {LFW} not found", file=sys.stderr)
        method, cut = "average", spec.cluster_distance
    doc["repository"] = {
        "method": method,
        "cut": cut,
        "faces": len(repo_names),
        "people": len(set(repo_names)),
    } | score(repo_x, repo_names, method, cut)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{spec.id}; choice: best mean F1 with mean precision >= {PRECISION_FLOOR} on two folds")
    print("held-out fold | faces, people | chosen on the other two | B-prec | B-rec | B-F1 | s")
    for r in doc.get("held_out", []):
        print(
            f"{r['fold']} | {r['faces']}, {r['people']} | {r['method']} {r['cut']} | "
            f"{r['bcubed_precision']:.4f} | {r['bcubed_recall']:.4f} | {r['bcubed_f1']:.4f} | "
            f"{r['seconds']:.2f}"
        )
    if "chosen_on_all_folds" in doc:
        r = doc["chosen_on_all_folds"]
        print(
            f"chosen on all three folds and the strangers together ({r['faces']} faces, "
            f"{r['people']} people): {r['method']} {r['cut']}: P {r['bcubed_precision']:.4f} "
            f"R {r['bcubed_recall']:.4f} F1 {r['bcubed_f1']:.4f}, {r['seconds']:.2f} s"
        )
    r = doc["repository"]
    print(
        f"repository ({r['faces']} faces, {r['people']} people) at {r['method']} {r['cut']}: "
        f"P {r['bcubed_precision']:.4f} R {r['bcubed_recall']:.4f} F1 {r['bcubed_f1']:.4f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
