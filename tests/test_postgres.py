"""The CLI on a PostgreSQL gallery (pgvector, from pgserver): the same commands, the same
answers as on SQLite, nearest faces from the HNSW index, writers that queue."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec
from pipeline.stores import open_store
from pipeline.stores.records import STATUS_OK, ImageRecord
from tests.conftest import DATASET, EXAMPLES, names_in, run_json

pytestmark = pytest.mark.slow


def test_the_cli_runs_on_a_postgres_gallery(pg_url, trained, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FACEREC_STORE", pg_url)  # every command's default --store
    first = run_json(capsys, "extract-embeddings", "--dataset", str(DATASET))
    assert (first["embedded"], first["unchanged"]) == (11, 0)
    again = run_json(capsys, "extract-embeddings", "--dataset", str(DATASET))
    assert (again["embedded"], again["unchanged"], again["removed"]) == (0, 11, 0)
    model = tmp_path / "recognizer.skops"
    run_json(capsys, "train-model", "--model", str(model))
    doc = run_json(capsys, "recognize", str(EXAMPLES), "--model", str(model), "--no-output")
    assert names_in(doc)["obama_and_biden.jpg"] == ["biden", "obama", "unknown"]
    assert names_in(doc)["kit_with_rose.jpg"] == ["kit_harington", "rose_leslie"]

    on_pg = run_json(capsys, "find", str(EXAMPLES / "obama1.jpg"), "-k", "3")
    on_file = run_json(
        capsys, "find", str(EXAMPLES / "obama1.jpg"), "-k", "3", "--store", str(trained["store"])
    )
    assert [n["path"] for n in on_pg["neighbours"]] == [n["path"] for n in on_file["neighbours"]]
    assert on_pg["neighbours"][0]["path"] == "obama/obama2.jpg"
    for a, b in zip(on_pg["neighbours"], on_file["neighbours"], strict=True):
        assert a["distance"] == pytest.approx(b["distance"], abs=1e-4)
    exported = run_json(capsys, "export", "-o", str(tmp_path / "export"))
    assert exported["faces"] == 11


def test_writers_on_one_gallery_queue_and_lose_nothing(pg_url):
    open_store(pg_url, "emb", 4).close()

    def write(worker: int) -> None:
        with open_store(pg_url, "emb", 4) as store:
            for n in range(10):
                vec = np.full(4, worker + n / 10, np.float32)
                store.upsert(
                    [
                        ImageRecord(
                            f"p{worker}/{n}.jpg",
                            f"p{worker}",
                            "h",
                            1,
                            2,
                            STATUS_OK,
                            None,
                            1,
                            embedding=vec,
                        )
                    ]
                )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open_store(pg_url, "emb", 4) as store:
        names, _, _ = store.embeddings()
    assert len(names) == 40 and {names.count(f"p{w}") for w in range(4)} == {10}


def test_two_servers_share_one_postgres_gallery(pg_url, tmp_path):
    """Server A starts on the bundled dataset, server B on an empty folder: B sees A's faces
    (its start removes nothing), and a face enrolled through A is recognized through B."""
    pytest.importorskip("fastapi")
    import shutil
    import time

    from tests.conftest import BBT
    from tests.serverkit import running

    a_dataset = tmp_path / "a" / "dataset"
    shutil.copytree(DATASET, a_dataset, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    (tmp_path / "b" / "dataset").mkdir(parents=True)
    a = {"dataset": a_dataset, "store": pg_url, "model": tmp_path / "a" / "r.skops"}
    b = {
        "dataset": tmp_path / "b" / "dataset",
        "store": pg_url,
        "model": tmp_path / "b" / "r.skops",
    }
    penny = sorted((BBT / "penny").glob("*.png"))

    def names(client, photo) -> list[str]:
        r = client.post("/api/v1/recognize", files={"file": (photo.name, photo.read_bytes())})
        return sorted(f["name"] for f in r.json()["faces"])

    with (
        running(a) as server_a,
        running(b) as server_b,
        server_a.client() as ca,
        server_b.client() as cb,
    ):
        assert len(cb.get("/api/v1/people").json()["people"]) == 6
        assert names(cb, EXAMPLES / "obama_and_biden.jpg") == ["biden", "obama", "unknown"]
        assert names(cb, penny[1]) == ["unknown"]
        r = ca.post(
            "/api/v1/people/penny/faces", files={"file": (penny[0].name, penny[0].read_bytes())}
        )
        assert r.status_code == 201
        near = cb.post("/api/v1/find?k=1", files={"file": (penny[1].name, penny[1].read_bytes())})
        assert near.json()["neighbours"][0]["person"] == "penny"  # from the index, at once
        deadline = time.monotonic() + 10
        seen = names(cb, penny[1])
        while seen != ["penny"] and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = names(cb, penny[1])
        assert seen == ["penny"]
        assert {p["name"]: p["faces"] for p in cb.get("/api/v1/people").json()["people"]}[
            "penny"
        ] == 1


def test_a_password_never_reaches_a_message():
    from pipeline.stores.postgres import redact

    assert (
        redact("postgresql://ada:s3cret@db.example/faces")
        == "postgresql://ada:***@db.example/faces"
    )
    assert redact("postgresql://ada@db.example/faces") == "postgresql://ada@db.example/faces"


def test_cluster_runs_on_a_postgres_library(pg_url, tmp_path, capsys):
    from tests.test_cluster import CAST, library, who

    photos = library(tmp_path / "photos")
    argv = ["cluster", str(photos), "-o", str(tmp_path / "report")]
    on_pg = run_json(capsys, *argv, "--store", pg_url)
    on_file = run_json(capsys, *argv, "--store", str(tmp_path / "library.db"))
    assert sorted(map(sorted, who(on_pg).values())) == [[p] for p in CAST]
    assert who(on_pg) == who(on_file) and on_pg["singletons"] == on_file["singletons"]
    again = run_json(capsys, *argv, "--store", pg_url)  # incremental: ids stay
    assert who(again) == who(on_pg) and again["changes"]["created"] == []


def test_kill_9_during_extract_on_postgres_keeps_every_committed_batch(pg_url, tmp_path, capsys):
    import random
    import signal

    import psycopg

    from tests.test_faults import big_dataset, kill_after

    dataset = big_dataset(tmp_path / "dataset")
    images = sum(1 for _ in dataset.rglob("*.*g"))

    def count(where: str = "TRUE") -> int:
        try:
            with psycopg.connect(pg_url) as conn:
                return int(
                    conn.execute(f"SELECT COUNT(*) FROM facerec.images WHERE {where}").fetchone()[0]
                )
        except psycopg.Error:  # no schema yet
            return 0

    argv = ["extract-embeddings", "-d", str(dataset), "-e", pg_url]
    status = kill_after(argv, random.Random().uniform(0.0, 2.0), ready=lambda: count() > 0)
    assert status == -signal.SIGKILL, "the run ended before it could be killed"
    done, ok_rows = count(), count("status = 'ok'")
    assert 0 < done < images
    dim = embedder_spec(DEFAULT_EMBEDDER).output_dim
    assert count(f"status = 'ok' AND vector_dims(embedding) = {dim}") == ok_rows
    assert count("status = 'ok'") == count("status = 'ok' AND embedding IS NOT NULL")
    doc = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", pg_url)
    assert doc["unchanged"] == ok_rows  # the lock went with the killed client's transaction
    assert doc["embedded"] + doc["unchanged"] + len(doc["skipped"]) == images


def test_a_shared_gallery_finds_faces_through_the_index_before_it_reloads(
    pg_url, tmp_path, recognizer, monkeypatch
):
    pytest.importorskip("fastapi")
    import shutil

    from pipeline.extract import image_record
    from pipeline.imageio import DatasetItem, read_image
    from pipeline.server.gallery import LiveGallery
    from tests.conftest import BBT

    monkeypatch.setattr(LiveGallery, "_watch", lambda self: None)  # no reloads
    dataset = tmp_path / "dataset"
    shutil.copytree(DATASET, dataset, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    gallery, _ = LiveGallery.open(dataset, pg_url, tmp_path / "r.skops", recognizer)
    try:
        penny = sorted((BBT / "penny").glob("*.png"))
        spec = recognizer.embedder.spec
        with open_store(pg_url, spec.id, spec.output_dim, recognizer.detector.spec.id) as other:
            image = read_image(penny[0])  # another machine enrols penny
            [faces] = recognizer.embed_images([image])
            item = DatasetItem("penny", penny[0], "penny/penny1.png")
            other.upsert([image_record(item, "0" * 64, 1, 1, image, faces)])
        [probe] = recognizer.embed_images([read_image(penny[1])])
        [near] = gallery.nearest(probe.embeddings[:1], 1)
        assert (near.person, near.path) == ("penny", "penny/penny1.png")
        assert near.distance < spec.max_distance  # near enough to be named
        assert "penny" not in gallery.snapshot.people  # this server's memory never reloaded
    finally:
        gallery.close()
