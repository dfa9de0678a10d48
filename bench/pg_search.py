"""1:K search in PostgreSQL + pgvector at gallery scale: bulk insert rate, HNSW build time,
query latency and recall@1 against exact search.

    python bench/pg_search.py [--faces 1000000] [--queries 200] [--ef 40 100] [--url URL]

The gallery: `--faces` synthetic 512-d unit vectors drawn from a Gaussian fitted to real
FaceNet embeddings (the LFW dev faces when ../shared is there and bench/cluster_quality.py has
embedded them, else the repository's), so that they spread like faces do (uniformly random
directions are the worst case for HNSW: recall@1 0.21-0.35 at 1M, unlike any face gallery),
plus the repository's real faces (tests/data/bbt/<person>/ photos 2-5 and dataset/), embedded by the default
embedder; queries are photo 1 of each bbt person and random stored vectors jittered as a second
photo would be. Rows go in with COPY (binary) into the same table layout the store uses
(`vector(512)`), then an HNSW index (m 16, ef_construction 64) is built, as PgStore does.
Without --url a server is started by pgserver in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402


def real_faces() -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """(stored vectors, their names, query vectors, their names) from the repository."""
    recognizer = FaceRecognizer.from_models_dir()
    stored, names, queries, asked = [], [], [], []
    for person in sorted((ROOT / "tests" / "data" / "bbt").iterdir()):
        if not person.is_dir():
            continue
        for photo in sorted(person.glob("*.png")):
            _, v = recognizer.embed_faces(read_image(photo))
            if len(v):
                (queries if photo.stem.endswith("1") else stored).append(v[0])
                (asked if photo.stem.endswith("1") else names).append(person.name)
    return np.stack(stored), names, np.stack(queries), asked


def face_distribution(fallback: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and a Cholesky factor of the covariance of real FaceNet embeddings."""
    lfw = ROOT / "output" / "cluster-bench" / "lfw-dev.db"
    sample = fallback
    if lfw.is_file():
        from pipeline.registry import embedder_spec
        from pipeline.stores.sqlite import EmbeddingStore

        spec = embedder_spec("facenet")
        with EmbeddingStore(lfw, spec.id, spec.output_dim, writer=False) as store:
            sample = store.embeddings()[1]
    mean = sample.mean(axis=0).astype(np.float64)
    cov = np.cov(sample.T.astype(np.float64)) + 1e-6 * np.eye(sample.shape[1])
    print(f"synthetic faces from the distribution of {len(sample)} real embeddings")
    return mean, np.linalg.cholesky(cov)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--faces", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    ap.add_argument("--url")
    args = ap.parse_args()
    import psycopg
    from pgvector.psycopg import register_vector

    server = None
    url = args.url
    if url is None:
        import pgserver

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server = pgserver.get_server(
                tempfile.mkdtemp(prefix="facerec-pg-"), cleanup_mode="delete"
            )
        url = server.get_uri()
    real, real_names, real_queries, asked = real_faces()
    rng = np.random.default_rng(0)
    dim = real.shape[1]
    mean, factor = face_distribution(real)
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    register_vector(conn)
    conn.execute("DROP TABLE IF EXISTS bench_faces")
    conn.execute(f"CREATE TABLE bench_faces (id BIGINT PRIMARY KEY, embedding vector({dim}))")
    total = args.faces + len(real)
    start = time.perf_counter()
    kept = np.empty((total, dim), np.float32)
    with (
        conn.cursor() as cur,
        cur.copy("COPY bench_faces (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy,
    ):
        copy.set_types(["int8", "vector"])
        row = 0
        for chunk in range(0, args.faces, 50_000):
            n = min(50_000, args.faces - chunk)
            part = (mean + rng.standard_normal((n, dim)) @ factor.T).astype(np.float32)
            part /= np.linalg.norm(part, axis=1, keepdims=True)
            kept[row : row + n] = part
            for v in part:
                copy.write_row((row, v))
                row += 1
        for v in real:
            kept[row] = v
            copy.write_row((row, v))
            row += 1
    insert_s = time.perf_counter() - start
    print(f"{total:,} faces inserted (COPY) in {insert_s:.1f} s: {total / insert_s:,.0f} rows/s")
    conn.execute("SET maintenance_work_mem = '6GB'")
    conn.execute("SET max_parallel_maintenance_workers = 1")
    start = time.perf_counter()
    conn.execute(
        "CREATE INDEX ON bench_faces USING hnsw (embedding vector_l2_ops) "
        "WITH (m = 16, ef_construction = 64)"
    )
    build_s = time.perf_counter() - start
    print(f"HNSW index built in {build_s:.0f} s")
    # queries: the real photos 1 (their person is stored), and stored vectors jittered
    jitter = kept[rng.integers(0, args.faces, args.queries - len(real_queries))]
    jitter = jitter + rng.standard_normal(jitter.shape).astype(np.float32) * 0.01
    jitter /= np.linalg.norm(jitter, axis=1, keepdims=True)
    queries = np.concatenate([real_queries, jitter])
    exact = [int(np.argmin(((kept - q) ** 2).sum(axis=1))) for q in queries]
    for ef in args.ef:
        conn.execute(f"SET hnsw.ef_search = {ef}")
        times, hits, named = [], 0, 0
        for i, q in enumerate(queries):
            start = time.perf_counter()
            found = conn.execute(
                "SELECT id FROM bench_faces ORDER BY embedding <-> %s LIMIT 1", (q,)
            ).fetchone()[0]
            times.append(time.perf_counter() - start)
            hits += found == exact[i]
            if i < len(real_queries):
                first_real = args.faces
                named += found >= first_real and real_names[found - first_real] == asked[i]
        ms = np.array(times) * 1000
        print(
            f"ef_search {ef}: p50 {np.percentile(ms, 50):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms, "
            f"recall@1 {hits / len(queries):.3f} against exact search; real faces named right "
            f"{named}/{len(real_queries)}"
        )
    conn.close()
    if server is not None:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
