"""How well faces group into people without labels: BCubed and pairwise precision and recall
of each clustering method and distance cut, on the LFW dev images and the repository's faces.

    python bench/cluster_quality.py [--methods average whispers ...] [--cuts 0.8 0.85 ...]
                                    [--embedder facenet|dlib]

The faces are the main face of every image, embedded with the default embedder (extracted once
into output/cluster-bench/*.db, incremental afterwards). LFW dev: 2,320 images of 1,241 people,
most with one or two photos; the repository: tests/data/bbt/<person>/ and dataset/ (14 people,
51 faces). Skips LFW when ../shared is absent. Targets (issue 15): BCubed precision >= 0.985,
F1 >= 0.94 on LFW dev and >= 0.97 on the repository's faces.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.cluster import METHODS, cluster_vectors, score_clusters  # noqa: E402
from pipeline.extract import extract_embeddings  # noqa: E402
from pipeline.models import embedder_spec  # noqa: E402
from pipeline.recognizer import FaceRecognizer  # noqa: E402
from pipeline.store import EmbeddingStore  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw-dev" / "images"
OUT = ROOT / "output" / "cluster-bench"


def repo_faces() -> Path:
    """tests/data/bbt/<person>/ and dataset/<person>/ side by side in one folder."""
    folder = OUT / "repo"
    if not folder.is_dir():
        for person in sorted((ROOT / "tests" / "data" / "bbt").iterdir()):
            if person.is_dir():
                shutil.copytree(person, folder / person.name)
        for person in sorted((ROOT / "dataset").iterdir()):
            if person.is_dir():
                shutil.copytree(person, folder / person.name)
    return folder


def embedded(dataset: Path, store_path: Path, recognizer: FaceRecognizer):  # noqa: ANN201
    spec = recognizer.embedder.spec
    with EmbeddingStore(store_path, spec.id, spec.output_dim, recognizer.detector.spec.id) as s:
        extract_embeddings(dataset, s, recognizer)
        names, vectors, _ = s.embeddings()
    return names, vectors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--cuts", nargs="+", type=float, help="default: the embedder's cut and +-0.05")
    ap.add_argument("--embedder", default="facenet", choices=["facenet", "dlib"])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = embedder_spec(args.embedder)
    cuts = args.cuts or [round(spec.cluster_distance + d, 3) for d in (-0.05, 0, 0.05)]
    recognizer = FaceRecognizer.from_models_dir(embedder=spec)
    tag = "" if args.embedder == "facenet" else f"-{args.embedder}"
    sets = {"repository": embedded(repo_faces(), OUT / f"repo{tag}.db", recognizer)}
    if LFW.is_dir():
        sets["lfw-dev"] = embedded(LFW, OUT / f"lfw-dev{tag}.db", recognizer)
    else:
        print(f"LFW skipped: {LFW} not found")
    rows = []
    for name, (people, vectors) in sets.items():
        for method in args.methods:
            for cut in cuts:
                start = time.perf_counter()
                labels = cluster_vectors(vectors, cut, method)
                seconds = time.perf_counter() - start
                score = score_clusters(labels, people)
                rows.append({"set": name, "faces": len(people), "people": len(set(people)),
                             "method": method, "cut": cut, "seconds": round(seconds, 3)}
                            | score.to_dict())  # fmt: skip
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'set':<11} {'method':<9} {'cut':>5} {'B-prec':>7} {'B-rec':>7} {'B-F1':>7} "
          f"{'pair-P':>7} {'pair-R':>7} {'groups':>6} {'single':>6} {'s':>6}")  # fmt: skip
    for r in rows:
        print(f"{r['set']:<11} {r['method']:<9} {r['cut']:>5.2f} {r['bcubed_precision']:>7.4f} "
              f"{r['bcubed_recall']:>7.4f} {r['bcubed_f1']:>7.4f} {r['pairwise_precision']:>7.4f} "
              f"{r['pairwise_recall']:>7.4f} {r['groups']:>6} {r['singletons']:>6} {r['seconds']:>6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
