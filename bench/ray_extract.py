"""Extraction images/s through Ray with 1 and 2 workers, against the local path, on real faces.

    python bench/ray_extract.py [--images 400] [--runs 3] [--writer 20000] [--json]

The images are the first --images of the LFW dev folds (../shared/data/lfw-dev; the bundled
dataset when that is absent), linked into a folder per person. Each run embeds them all into a
new SQLite store; the configurations take turns within a run, since this 2-core machine is
noisy. A Ray figure counts from the call to the last row written: the actors' start and model
loading included, the cluster's own start (reported apart) not.

The driver is the one writer, so it also times the driver's side alone for --writer rows: a
worker's row decoded (from_row) and upserted 16 per transaction, into SQLite and, when the test
extra's pgserver is installed, into PostgreSQL with its HNSW index.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.extract import BATCH_IMAGES, Seen, Tally, extract_embeddings  # noqa: E402
from pipeline.extract_ray import NetsRecipe, extract_embeddings_ray, from_row, to_row  # noqa: E402
from pipeline.imageio import DatasetItem, scan_dataset  # noqa: E402
from pipeline.stores import open_store  # noqa: E402
from pipeline.stores.records import STATUS_OK, ImageRecord  # noqa: E402

LFW = ROOT.parent / "shared" / "data" / "lfw-dev" / "images"


def linked_dataset(dest: Path, count: int) -> int:
    """The first `count` images of LFW dev (else the bundled dataset) as links under dest."""
    source = LFW if LFW.is_dir() else ROOT / "dataset"
    items = scan_dataset(source).items[:count]
    for item in items:
        link = dest / item.relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(item.path.resolve())
    return len(items)


def writer_rate(location: str, rows: int, bulk: bool = False, dim: int = 512) -> float:
    """Rows/s through the driver's side: a worker's row decoded, then upserted in batches;
    with `bulk`, inside store.bulk_load (for PostgreSQL: the index dropped, built after; the
    build is counted)."""
    rng = np.random.default_rng(0)
    made = []
    for n in range(rows):
        vec = rng.standard_normal(dim).astype(np.float32)
        record = ImageRecord(
            f"p{n % 1000}/{n}.jpg",
            f"p{n % 1000}",
            f"{n:064x}",
            1000,
            n,
            STATUS_OK,
            None,
            1,
            [1.0, 2.0, 50.0, 60.0],
            0.9,
            [[10.0, 20.0]] * 5,
            vec / np.linalg.norm(vec),
        )
        seen = Seen(DatasetItem(record.person, Path(), record.relpath), "new")
        doc, data = to_row(seen, record)
        made.append((doc, data))
    with open_store(location, "bench-emb", dim, "bench-det") as store:
        tally = Tally([], {}, 0, [])
        start = time.perf_counter()
        with store.bulk_load(rows if bulk else 0):
            for k in range(0, rows, BATCH_IMAGES):
                batch = [from_row(json.loads(d), b, dim) for d, b in made[k : k + BATCH_IMAGES]]
                tally.write(batch, store)
        return rows / (time.perf_counter() - start)


def writer_rates(work: Path, rows: int) -> dict[str, float]:
    rates = {"sqlite": writer_rate(str(work / "writer.db"), rows)}
    try:
        import pgserver
        import psycopg
    except ImportError:
        return rates
    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    try:
        base = server.get_uri()
        for name, bulk in (("postgresql, index kept", False), ("postgresql, bulk", True)):
            db = "w_bulk" if bulk else "w_kept"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {db}")
            rates[name] = writer_rate(base.replace("/postgres?", f"/{db}?"), rows, bulk)
    finally:
        server.cleanup()
    return rates


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--images", type=int, default=400)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--writer", type=int, default=20000, help="rows for the writer's rate")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import ray

    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    count = linked_dataset(work / "data", args.images)
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    cluster_start = time.perf_counter() - start
    recognizer = FaceRecognizer.from_models_dir()
    spec, detector = recognizer.embedder.spec, recognizer.detector.spec.id
    recipe = NetsRecipe.of(recognizer, None, False)
    rates: dict[str, list[float]] = {"local": [], "ray 1 worker": [], "ray 2 workers": []}
    for run in range(args.runs):
        for name in rates:
            db = work / f"{run}-{name.replace(' ', '-')}.db"
            with open_store(str(db), spec.id, spec.output_dim, detector) as store:
                start = time.perf_counter()
                if name == "local":
                    done = extract_embeddings(work / "data", store, recognizer)
                else:
                    workers = int(name.split()[1])
                    done = extract_embeddings_ray(work / "data", store, recipe, workers)
                rates[name].append(count / (time.perf_counter() - start))
            print(
                f"run {run + 1} {name}: {rates[name][-1]:.1f} images/s ({done.embedded} embedded)",
                file=sys.stderr,
            )
    ray.shutdown()
    writer = writer_rates(work, args.writer) if args.writer else {}
    doc = {
        "images": count,
        "backend": recipe.backend,
        "ray_start_s": round(cluster_start, 1),
        "images_per_s": {k: [round(v, 1) for v in vs] for k, vs in rates.items()},
        "writer_rows_per_s": {k: round(v) for k, v in writer.items()},
    }
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    print(f"{count} images, {recipe.backend} runtime, Ray cluster start {cluster_start:.1f} s")
    local = statistics.median(rates["local"])
    for name, values in rates.items():
        mid = statistics.median(values)
        print(
            f"{name:>14}: {min(values):5.1f}-{max(values):5.1f} images/s "
            f"(median {mid:.1f}, {mid / local:.2f}x local)"
        )
    for name, rate in writer.items():
        print(f"the driver writing {args.writer} rows into {name}: {rate:,.0f} rows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
