"""Open-set 1:K identification on both gallery shapes, every tuned value chosen by
cross-validation over the LFW dev folds' people: tune on two folds, report on the third.

    python bench/openset.py [--embedder sface] [--json]       # about 3 minutes with SFace

The LFW dev folds (pairs.txt folds 1-3) are disjoint in people. `gallery/` holds every LFW image
of those 1,241 people, `strangers/` 1,548 images of 1,467 people in no fold, split into three
parts by name. The main face of every image is embedded once into output/openset-bench/.

Three gallery shapes, each scored per fold f (its people's faces, stranger part f):
- lfw: every gallery person with 3 or more photos enrolled (253 people, about 2,100 faces),
  5-fold over their photos as `facerec evaluate --folds 5` does; the faces tested in fold f are
  those of fold f's people, the others stay enrolled as distractors;
- rich: fold f's people with 10 or more photos (15-20 people, 260-530 photos), 10-fold over
  their photos (each photo answered once, 90% of the rest enrolled);
- small: 15 random galleries of 6 of fold f's people with 3 or more photos, 5-fold: galleries
  too small to calibrate, where the embedder's ceiling (max_distance) decides.

Candidates: the 1:K rule (the person's centre, or the nearer of it and their nearest photo),
the classifier that picks the name (auto: the SVM up to 200 people; or the nearest person by
the rule), the stand-in stranger share `far` that train-model calibrates max_distance to, and
the ceiling. For each rule and classifier, the (far, ceiling) with the best mean of (known
faces named right, strangers rejected) over the three shapes on two folds is reported on the
third; the shipped default is the one best on all three. Skips (exit 0) when ../shared/data/lfw-dev is absent.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import registry  # noqa: E402
from pipeline.calibrate import MIN_IMPOSTORS, MIN_PEOPLE, leave_one_out_scores  # noqa: E402
from pipeline.classify import IdentityClassifier  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.evaluation.identification import detection_identification_rate  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.stores.sqlite import EmbeddingStore  # noqa: E402
from pipeline.train import default_min_probability  # noqa: E402
from pipeline.vectors import RULES  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw-dev"
OUT = ROOT / "output" / "openset-bench"
SHAPES = ("lfw", "rich", "small")
CLASSIFIERS = ("nearest", "auto")  # auto: the SVM up to 200 people
FARS = (0.0025, 0.005, 0.01, 0.02, 0.03)
CAPS = (0.96, 0.98, 1.0, 1.02, 1.04, 1.06, 1.08)


def people_folds(pairs: Path) -> dict[str, int]:
    """{person: dev fold 0-2} from LFW's pairs.txt (3 folds of 600 lines)."""
    lines = pairs.read_text().splitlines()[1:]
    fold_of: dict[str, int] = {}
    for n, line in enumerate(lines):
        parts = line.split("\t")
        for name in (parts[0],) if len(parts) == 3 else (parts[0], parts[2]):
            fold_of[name] = n // 600
    return fold_of


def embedded(folder: Path, db: Path, recognizer: FaceRecognizer) -> tuple[np.ndarray, np.ndarray]:
    """(names, (N, D) vectors) of the main face of every image under folder/<person>/."""
    spec = recognizer.embedder.spec
    with EmbeddingStore(db, spec.id, spec.output_dim, recognizer.detector.spec.id) as store:
        extract_embeddings(folder, store, recognizer)
        names, vectors, _ = store.embeddings()
    return np.array(names), np.asarray(vectors, np.float32)


@dataclass
class Answers:
    """One gallery and classifier: each test face's answer before any threshold, and each
    split's stand-in strangers for calibration. `known_fold` / `stranger_part` say which dev
    fold a known face's person / which part a stranger belongs to."""

    right: np.ndarray  # candidate is the true person (known faces)
    known: np.ndarray  # distance to the candidate (known faces)
    known_p: np.ndarray  # SVM probability of the candidate (known faces)
    strangers: np.ndarray  # distance to the candidate (stranger faces)
    strangers_p: np.ndarray
    known_split: np.ndarray
    stranger_split: np.ndarray
    known_fold: np.ndarray
    stranger_part: np.ndarray
    impostors: list[np.ndarray]  # per split: leave-one-person-out impostor distances
    people: list[int]
    svm: list[bool]  # per split: the SVM picked the names (auto and at most 200 people)


def answer(
    x: np.ndarray,
    names: np.ndarray,
    folds: np.ndarray,
    sx: np.ndarray,
    parts: np.ndarray,
    k: int,
    rule: str,
    method: str,
) -> Answers:
    """Fit the product's classifier on each split's enrolled faces (no threshold), answer the
    split's test faces and every k-th stranger."""
    cols: dict[str, list[np.ndarray]] = {
        c: [] for c in ("r", "d", "p", "sd", "sp", "ks", "ss", "kf", "sf")
    }
    impostors, people, svm = [], [], []
    with warnings.catch_warnings():  # people with fewer photos than splits are expected
        warnings.simplefilter("ignore", UserWarning)
        parts_of = list(StratifiedKFold(k, shuffle=True, random_state=0).split(names, names))
    for split, (train, test) in enumerate(parts_of):
        model = IdentityClassifier(2.0, 0.0, method=method, rule=rule).fit(x[train], names[train])
        own = np.arange(split, len(sx), k)
        matches = model.predict(np.concatenate([x[test], sx[own]]))
        known, alien = matches[: len(test)], matches[len(test) :]
        cols["r"].append(
            np.array([m.candidate == t for m, t in zip(known, names[test], strict=True)])
        )
        cols["d"].append(np.array([m.distance for m in known]))
        cols["p"].append(np.array([1.0 if m.probability is None else m.probability for m in known]))
        cols["sd"].append(np.array([m.distance for m in alien]))
        cols["sp"].append(
            np.array([1.0 if m.probability is None else m.probability for m in alien])
        )
        cols["ks"].append(np.full(len(test), split))
        cols["ss"].append(np.full(len(own), split))
        cols["kf"].append(folds[test])
        cols["sf"].append(parts[own])
        labels = np.unique(names[train], return_inverse=True)[1].astype(np.int64)
        impostors.append(leave_one_out_scores(x[train], labels, rule=rule)[0])
        people.append(len(set(names[train])))
        svm.append(model.mode == "svm")
    c = {key: np.concatenate(v) for key, v in cols.items()}
    return Answers(
        c["r"].astype(bool),
        c["d"],
        c["p"],
        c["sd"],
        c["sp"],
        c["ks"],
        c["ss"],
        c["kf"],
        c["sf"],
        impostors,
        people,
        svm,
    )


def decide(a: Answers, fold: int, far: float, cap: float) -> tuple[float, float, float]:
    """(known named right, strangers rejected, DIR at FAR 1%) for fold `fold`'s faces, with
    train-model's threshold per split: the `far` quantile of its stand-in strangers, at most
    `cap` (calibrate.py), and the SVM's default probability floor."""
    known_ok = np.zeros(len(a.known), bool)
    rejected = np.zeros(len(a.strangers), bool)
    for split, imp in enumerate(a.impostors):
        limit = cap
        if a.people[split] >= MIN_PEOPLE and len(imp) >= MIN_IMPOSTORS:
            limit = min(cap, float(np.quantile(imp, far)))
        floor = default_min_probability(a.people[split]) if a.svm[split] else 0.0
        k, s = a.known_split == split, a.stranger_split == split
        known_ok[k] = a.right[k] & (a.known[k] <= limit) & (a.known_p[k] >= floor)
        rejected[s] = (a.strangers[s] > limit) | (a.strangers_p[s] < floor)
    k, s = a.known_fold == fold, a.stranger_part == fold
    dir1 = detection_identification_rate(a.right[k], a.known[k], a.strangers[s], 0.01)
    return float(known_ok[k].mean()), float(rejected[s].mean()), dir1


def collect(
    x: np.ndarray,
    names: np.ndarray,
    sx: np.ndarray,
    snames: np.ndarray,
    fold_of: dict[str, int],
    candidates: list[tuple[str, str]],
) -> dict:
    """{shape: {candidate: [(Answers, fold), ...]}}: every gallery of every shape answered once
    per candidate (the lfw gallery holds every fold's people, each scored in its own fold)."""
    names_sorted = sorted(set(snames))
    parts = np.array([names_sorted.index(n) % 3 for n in snames])
    folds = np.array([fold_of.get(n, -1) for n in names])
    count = dict(zip(*np.unique(names, return_counts=True), strict=True))
    many = np.array([count[n] for n in names])
    rng = np.random.default_rng(0)
    galleries: dict[str, list[tuple[np.ndarray, int, int | None]]] = {
        "lfw": [(many >= 3, 5, None)],
        "rich": [],
        "small": [],
    }
    for f in range(3):
        galleries["rich"].append(((many >= 10) & (folds == f), 10, f))
        pool = sorted(set(names[(many >= 3) & (folds == f)]))
        galleries["small"] += [
            (np.isin(names, rng.choice(pool, 6, replace=False)), 5, f) for _ in range(15)
        ]
    out: dict = {}
    for shape, sets in galleries.items():
        out[shape] = {}
        for cand in candidates:
            rows = []
            for g, k, f in sets:
                # a per-fold gallery meets only its own part of the strangers
                own = np.ones(len(sx), bool) if f is None else parts == f
                rows.append((answer(x[g], names[g], folds[g], sx[own], parts[own], k, *cand), f))
            out[shape][cand] = rows
        print(f"{shape}: answered", file=sys.stderr, flush=True)
    return out


def figures(
    sets: dict, shape: str, folds: list[int], rule: str, method: str, far: float, cap: float
) -> tuple[float, float, float]:
    """(known, rejected, DIR at FAR 1%) of a candidate on these folds' faces, averaged."""
    rows = [
        decide(a, f, far, cap)
        for a, only in sets[shape][(rule, method)]
        for f in folds
        if only is None or only == f
    ]
    return tuple(float(np.mean(col)) for col in zip(*rows, strict=True))  # type: ignore[return-value]


def objective(sets: dict, folds: list[int], cand: tuple) -> float:
    """The mean of known named right and strangers rejected over the three shapes: a known
    face turned away and a stranger named weigh the same."""
    return float(np.mean([v for s in SHAPES for v in figures(sets, s, folds, *cand)[:2]]))


def choose(sets: dict, folds: list[int], grid: list[tuple]) -> tuple:
    """The best (far, cap) on these folds; ties go to the lower ceiling (the safer one)."""
    return max(grid, key=lambda c: (round(objective(sets, folds, c), 4), -c[3]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--embedder", default=registry.DEFAULT_EMBEDDER, choices=sorted(registry.EMBEDDERS)
    )
    ap.add_argument("--classifiers", nargs="+", default=list(CLASSIFIERS), choices=CLASSIFIERS)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not (LFW / "gallery").is_dir():
        print(f"skipped: {LFW} not found (LFW dev folds live in ../shared)")
        return 0
    recognizer = FaceRecognizer.from_models_dir(embedder=args.embedder)
    names, x = embedded(LFW / "gallery", OUT / f"gallery-{args.embedder}.db", recognizer)
    snames, sx = embedded(LFW / "strangers", OUT / f"strangers-{args.embedder}.db", recognizer)
    candidates = list(itertools.product(RULES, args.classifiers))
    sets = collect(x, names, sx, snames, people_folds(LFW / "pairs.txt"), candidates)
    spec = recognizer.embedder.spec
    doc: dict = {
        "embedder": spec.id,
        "faces": len(names),
        "stranger_faces": len(snames),
        "shipped": {"rule": spec.rule, "far": spec.far, "cap": spec.max_distance},
        "candidates": [],
    }
    for rule, method in candidates:
        grid = [(rule, method, far, cap) for far in FARS for cap in CAPS]
        row: dict = {"rule": rule, "classifier": method, "held_out": []}
        for f in range(3):
            tune = [g for g in range(3) if g != f]
            best = choose(sets, tune, grid)
            row["held_out"].append(
                {"fold": f + 1, "far": best[2], "cap": best[3]}
                | {s: [round(v, 4) for v in figures(sets, s, [f], *best)] for s in SHAPES}
            )
        every = choose(sets, [0, 1, 2], grid)
        row["chosen_on_all_folds"] = {
            "far": every[2],
            "cap": every[3],
            "objective": round(objective(sets, [0, 1, 2], every), 4),
        }
        doc["candidates"].append(row)
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(
        f"{spec.id}: {len(names)} gallery faces, {len(snames)} stranger faces; shipped: "
        f"rule {spec.rule}, far {spec.far}, ceiling {spec.max_distance}"
    )
    print(
        "rule / classifier | held-out fold | far, cap chosen on the other two | "
        "lfw known/rejected/DIR@1% | rich | small"
    )
    for row in doc["candidates"]:
        for h in row["held_out"]:
            cells = " | ".join("/".join(f"{v:.4f}" for v in h[s]) for s in SHAPES)
            print(
                f"{row['rule']} / {row['classifier']} | {h['fold']} | {h['far']}, {h['cap']} | {cells}"
            )
        c = row["chosen_on_all_folds"]
        print(
            f"{row['rule']} / {row['classifier']} | chosen on all three folds: far {c['far']}, "
            f"cap {c['cap']} (mean figure {c['objective']:.4f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
