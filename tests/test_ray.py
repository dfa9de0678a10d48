"""Extraction on a real local Ray cluster (2 CPUs): the same rows as the local path, the same
incremental rules, and a worker killed mid-run that is restarted with nothing lost or doubled."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pipeline.extract import extract_embeddings
from pipeline.extract_ray import EmbedWorker, NetsRecipe, extract_embeddings_ray
from pipeline.stores import open_store
from tests.conftest import BBT, DATASET, copy_dataset

ray = pytest.importorskip("ray", reason="Ray is not installed (the ray extra)")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster of 2 CPUs for the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _dataset(dest: Path) -> Path:
    """The bundled dataset, plus what must be skipped (a broken image, a reserved folder name)
    and a group photo (every face is kept with --all-faces)."""
    copy_dataset(dest)
    (dest / "obama" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (dest / "Unknown").mkdir()
    shutil.copy(DATASET / "biden" / os.listdir(DATASET / "biden")[0], dest / "Unknown" / "b.jpg")
    shutil.copy(BBT / "bbt1.jpg", dest / "obama" / "group.jpg")
    return dest


def _contents(store) -> dict[str, tuple]:
    """Every row as the store holds it: the image's stored facts, then each face's box, score
    and embedding."""
    rows: dict[str, tuple] = {k: (v, []) for k, v in store.known().items()}
    for f in store.records():
        rows[f.relpath][1].append((f.face, f.box, f.score, f.embedding))
    return rows


def _assert_same(a: dict[str, tuple], b: dict[str, tuple]) -> None:
    assert a.keys() == b.keys()
    for relpath, (facts, faces) in a.items():
        assert b[relpath][0] == facts, relpath
        assert len(b[relpath][1]) == len(faces), relpath
        for (fa, box, score, vec), (fb, box_b, score_b, vec_b) in zip(
            faces, b[relpath][1], strict=True
        ):
            assert (fa, box, score) == (fb, box_b, score_b), relpath
            assert np.abs(vec - vec_b).max() <= 1e-5, relpath


@pytest.mark.parametrize("all_faces", [False, True], ids=["main-faces", "all-faces"])
def test_ray_gives_the_local_paths_rows(cluster, recognizer, tmp_path, all_faces):
    data = _dataset(tmp_path / "data")
    local_db, ray_db = str(tmp_path / "local.db"), str(tmp_path / "ray.db")
    spec, det = recognizer.embedder.spec, recognizer.detector.spec.id
    with open_store(local_db, spec.id, spec.output_dim, det, all_faces=all_faces) as store:
        local = extract_embeddings(data, store, recognizer)
        local_rows = _contents(store)
    recipe = NetsRecipe.of(recognizer, None, all_faces)
    with open_store(ray_db, spec.id, spec.output_dim, det, all_faces=all_faces) as store:
        on_ray = extract_embeddings_ray(data, store, recipe, workers=2)
        _assert_same(local_rows, _contents(store))
    assert on_ray.to_dict() == local.to_dict()
    assert (on_ray.embedded, len(on_ray.skipped)) == (12, 2)
    assert {s.path: s.reason for s in on_ray.skipped}.keys() == {
        "Unknown/b.jpg",
        "obama/broken.jpg",
    }
    assert on_ray.multi_face_images == 1
    if all_faces:
        assert on_ray.faces_seen > 12  # the group photo's every face

    # the incremental rules: unchanged, touched (same bytes), changed, removed
    os.utime(data / "biden" / os.listdir(data / "biden")[0], (1, 1))
    changed = data / "kit_harington" / sorted(os.listdir(data / "kit_harington"))[0]
    shutil.copy(DATASET / "obama" / sorted(os.listdir(DATASET / "obama"))[0], changed)
    (data / "obama" / "group.jpg").unlink()
    with open_store(ray_db, spec.id, spec.output_dim, det) as store:
        again = extract_embeddings_ray(f"file://{data}", store, recipe, workers=1)
        assert (again.embedded, again.unchanged, again.removed) == (1, 10, 1)
        assert (
            store.known()[changed.relative_to(data).as_posix()][0]
            == store.known()["obama/" + sorted(os.listdir(DATASET / "obama"))[0]][0]
        )
        third = extract_embeddings_ray(data, store, recipe)
        assert (third.embedded, third.unchanged, third.removed) == (0, 11, 0)


def test_a_killed_worker_is_restarted_and_nothing_is_lost_or_doubled(cluster, recognizer, tmp_path):
    data = _dataset(tmp_path / "data")
    marks = tmp_path / "marks"
    marks.mkdir()

    class DiesOnce(EmbedWorker):
        """Kills its own process (SIGKILL, no cleanup) on the first batch holding obama's
        images; logs every worker start with its pid. Defined here: Ray ships it by value."""

        def __init__(self, recipe: NetsRecipe) -> None:
            with open(marks / "starts", "a") as f:
                f.write(f"{os.getpid()}\n")
            super().__init__(recipe)

        def __call__(self, batch):
            if any(str(r).startswith("obama/") for r in batch["relpath"]):
                try:
                    os.close(os.open(marks / "killed", os.O_CREAT | os.O_EXCL))
                except FileExistsError:
                    pass
                else:
                    os.kill(os.getpid(), signal.SIGKILL)
            return super().__call__(batch)

    spec, det = recognizer.embedder.spec, recognizer.detector.spec.id
    with open_store(str(tmp_path / "local.db"), spec.id, spec.output_dim, det) as store:
        extract_embeddings(data, store, recognizer)
        expected = _contents(store)
    with open_store(str(tmp_path / "ray.db"), spec.id, spec.output_dim, det) as store:
        done = extract_embeddings_ray(
            data, store, NetsRecipe.of(recognizer, None, False), workers=2, worker=DiesOnce
        )
        _assert_same(expected, _contents(store))
        names, _, relpaths = store.embeddings()
    assert (marks / "killed").exists()
    starts = (marks / "starts").read_text().split()
    assert len(set(starts)) >= 3  # two workers, and one started again after the kill
    assert done.embedded == 12 and len(relpaths) == len(set(relpaths)) == 12
    assert names.count("obama") == 4  # the three portraits and the group photo's main face


def _vector_indexes(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'facerec' AND indexdef LIKE "
            "'%hnsw%'"
        ).fetchall()
    return {r[0] for r in rows}


def test_ray_loads_a_postgres_gallery_without_its_index_then_builds_it(
    cluster, recognizer, tmp_path, pg_url, monkeypatch
):
    import pipeline.stores.postgres as pg

    monkeypatch.setattr(pg, "BULK_MIN_ROWS", 5)  # a bulk load, at the bundled dataset's size
    data = copy_dataset(tmp_path / "data")
    spec, det = recognizer.embedder.spec, recognizer.detector.spec.id
    with open_store(str(tmp_path / "local.db"), spec.id, spec.output_dim, det) as store:
        extract_embeddings(data, store, recognizer)
        expected = _contents(store)
    during: list[set[str]] = []

    def watch(outcomes, total):
        for k, out in enumerate(outcomes):
            if k == 0:
                during.append(_vector_indexes(pg_url))
            yield out

    with open_store(pg_url, spec.id, spec.output_dim, det) as store:
        indexes = _vector_indexes(pg_url)
        assert len(indexes) == 2
        recipe = NetsRecipe.of(recognizer, None, False)
        done = extract_embeddings_ray(data, store, recipe, progress=watch)
        _assert_same(expected, _contents(store))
        assert during == [set()] and _vector_indexes(pg_url) == indexes
        [(face, distance)] = store.nearest(expected["obama/obama.jpg"][1][0][3], 1)
        assert (face.relpath, distance) == ("obama/obama.jpg", pytest.approx(0, abs=1e-5))
        store.conn.execute("DROP INDEX facerec.images_embedding_hnsw")  # as if killed mid-load
        store.conn.commit()
    assert done.embedded == 11
    with open_store(pg_url, spec.id, spec.output_dim, det):
        assert _vector_indexes(pg_url) == indexes  # the next open builds it again


def test_the_cli_extracts_on_ray(tmp_path):
    """`--ray auto` from a new process: it starts (and stops) a cluster of its own."""
    store = tmp_path / "e.db"
    cmd = [
        sys.executable,
        "-m",
        "pipeline",
        "--json",
        "extract-embeddings",
        "-d",
        str(DATASET),
        "--store",
        str(store),
        "--ray",
        "auto",
        "--ray-workers",
        "1",
    ]
    env = {**os.environ, "RAY_ADDRESS": ""}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (doc["embedded"], doc["unchanged"], doc["skipped"]) == (11, 0, [])
    cmd[6] = "s3://bucket/photos"
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert bad.returncode == 1 and "only folders and file:// URLs" in bad.stderr
    assert "Traceback" not in bad.stderr
