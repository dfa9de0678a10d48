"""A real `facerec serve` process: what it acknowledged survives kill -9, concurrent
enrolments lose nothing, SIGTERM stops it cleanly."""

from __future__ import annotations

import threading

import pytest

from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec  # noqa: E402
from pipeline.stores.sqlite import EmbeddingStore  # noqa: E402
from tests.conftest import BBT
from tests.serverkit import Server, gallery_copy, running

pytestmark = pytest.mark.slow
API = "/api/v1"


def photos(person: str) -> list:
    return sorted((BBT / person).glob("*.png"))


def upload(path) -> dict:
    return {"file": (path.name, path.read_bytes())}


def names(doc: dict) -> list[str]:
    return sorted(f["name"] for f in doc["faces"])


def test_an_acknowledged_enrolment_survives_kill_9(trained, tmp_path):
    paths = gallery_copy(trained, tmp_path)
    penny = photos("penny")
    server = Server(paths, "--refit-after", "60").start()  # no refit before the kill
    with server.client() as client:
        r = client.post(f"{API}/people/penny/faces", files=upload(penny[0]))
        server.kill()  # right after the answer
    assert r.status_code == 201, r.text
    face = r.json()["face"]["id"]

    with running(paths) as again, again.client() as client:
        listed = client.get(f"{API}/people/penny/faces").json()["faces"]
        assert [f["id"] for f in listed] == [face]
        doc = client.post(f"{API}/recognize", files=upload(penny[1])).json()
        assert names(doc) == ["penny"]


def test_two_clients_enrolling_at_once_lose_nothing(trained, tmp_path):
    paths = gallery_copy(trained, tmp_path)
    people = ["penny", "leonard", "howard"]
    start = threading.Barrier(len(people))
    answers: dict[str, list[int]] = {}

    def enrol(server: Server, person: str) -> None:
        with server.client() as client:
            start.wait()
            answers[person] = [
                client.post(f"{API}/people/{person}/faces", files=upload(p)).status_code
                for p in photos(person)[:4]
            ]

    with running(paths) as server:
        threads = [threading.Thread(target=enrol, args=(server, p)) for p in people]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with server.client() as client:
            counts = {p["name"]: p["faces"] for p in client.get(f"{API}/people").json()["people"]}
            held_out = {
                p: names(client.post(f"{API}/recognize", files=upload(photos(p)[4])).json())
                for p in people
            }
        code = server.stop()
    assert code == 0  # SIGTERM: a normal stop
    assert answers == {p: [201] * 4 for p in people}
    assert {p: counts[p] for p in people} == dict.fromkeys(people, 4)
    assert held_out == {p: [p] for p in people}
    for person in people:
        assert len(list((paths["dataset"] / person).iterdir())) == 4
    spec = embedder_spec(DEFAULT_EMBEDDER)
    with EmbeddingStore(paths["store"], spec.id, spec.output_dim, writer=False) as store:
        stored = store.embeddings()[0]
    assert len(stored) == 11 + 12 and stored.count("leonard") == 4
