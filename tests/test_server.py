"""facerec serve through FastAPI's test client: every endpoint on real faces, every bad input's
JSON error, learning without a restart, and what the CLI sees of HTTP enrolments."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import BBT, DATASET, EXAMPLES, run_json

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from pipeline.server.jobs import Limits  # noqa: E402
from pipeline.server.problems import CODES  # noqa: E402
from pipeline.server.run import close  # noqa: E402
from pipeline.server.snapshot import file_version  # noqa: E402
from tests.serverkit import READ_KEY, WRITE_KEY, in_process  # noqa: E402

API = "/api/v1"
PENNY = sorted((BBT / "penny").glob("*.png"))


@pytest.fixture
def served(trained, recognizer, tmp_path) -> Iterator[TestClient]:
    """A server over a copy of the trained bundled gallery; the client sends the write key."""
    with in_process(
        trained, recognizer, tmp_path, Limits(upload_bytes=3 << 20, faces=5, rate=0)
    ) as client:
        yield client


def upload(path: Path, field: str = "file") -> dict:
    return {field: (path.name, path.read_bytes())}


def error_of(response, status: int, code: str) -> str:
    """Assert a JSON error with this status and stable code; returns its message."""
    assert response.status_code == status, response.text
    doc = response.json()
    assert doc["error"] == code and CODES[code] == status, doc
    assert doc["message"] and "Traceback" not in doc["message"]
    return doc["message"]


def names(doc: dict) -> list[str]:
    return sorted(f["name"] for f in doc["faces"])


# -- the endpoints on real faces -------------------------------------------------------------


def test_recognize_names_the_faces_with_the_recognizer_file(served):
    r = served.post(f"{API}/recognize", files=upload(EXAMPLES / "obama_and_biden.jpg"))
    doc = r.json()
    assert names(doc) == ["biden", "obama", "unknown"]
    assert {f["by"] for f in doc["faces"]} == {"recognizer"}
    assert doc["recognizer"] == {
        "version": file_version(served.paths["model"]),
        "up_to_date": True,
    }
    assert (doc["width"], doc["height"]) == (2000, 1428)
    biden = next(f for f in doc["faces"] if f["name"] == "biden")
    assert biden["distance"] < 0.8 and biden["candidate"] == "biden" and len(biden["box"]) == 4


def test_recognize_can_return_the_annotated_image(served):
    r = served.post(f"{API}/recognize?annotate=true", files=upload(EXAMPLES / "kit_with_rose.jpg"))
    doc = r.json()
    assert names(doc) == ["kit_harington", "rose_leslie"]
    head, b64 = doc["annotated"].split(",", 1)
    assert head == "data:image/jpeg;base64"
    drawn = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape[:2] == (doc["height"], doc["width"])


def test_verify_detect_and_find(served):
    same = served.post(
        f"{API}/verify",
        files=upload(EXAMPLES / "obama1.jpg", "a") | upload(DATASET / "obama" / "obama.jpg", "b"),
    ).json()
    assert same["same"] is True and 0.5 < same["distance"] < 0.9
    other = served.post(
        f"{API}/verify",
        files=upload(EXAMPLES / "obama1.jpg", "a") | upload(DATASET / "biden" / "biden.jpg", "b"),
    ).json()
    assert other["same"] is False and other["distance"] > other["threshold"]

    found = served.post(f"{API}/detect", files=upload(EXAMPLES / "bbt1.jpg")).json()
    assert len(found["faces"]) == 4
    assert all(len(f["landmarks"]) == 5 and f["score"] > 0.5 for f in found["faces"])

    near = served.post(f"{API}/find?k=2", files=upload(EXAMPLES / "obama1.jpg")).json()
    assert [n["person"] for n in near["neighbours"]] == ["obama", "obama"]
    assert near["neighbours"][0]["path"] == "obama/obama2.jpg"
    assert near["neighbours"][0]["distance"] < near["neighbours"][1]["distance"]


def test_people_are_listed_with_their_face_counts(served):
    doc = served.get(f"{API}/people").json()
    expected = {p.name: len(list(p.iterdir())) for p in DATASET.iterdir() if p.is_dir()}
    assert {p["name"]: p["faces"] for p in doc["people"]} == expected
    faces = served.get(f"{API}/people/obama/faces").json()["faces"]
    assert sorted(f["id"] for f in faces) == ["obama.jpg", "obama2.jpg", "obama3.jpg"]
    person = served.get(f"{API}/people/obama").json()
    assert person["name"] == "obama" and person["faces"] == faces
    thumb = served.get(f"{API}/people/obama/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg"
    image = cv2.imdecode(np.frombuffer(thumb.content, np.uint8), cv2.IMREAD_COLOR)
    assert max(image.shape[:2]) == 128


def test_health_ready_metrics_docs_and_page(served):
    assert served.get(f"{API}/health", headers={"X-API-Key": ""}).json() == {"status": "ok"}
    ready = served.get(f"{API}/ready", headers={"X-API-Key": ""}).json()
    assert ready["ready"] is True and ready["faces"] == 11 and ready["people"] == 6
    served.post(f"{API}/recognize", files=upload(EXAMPLES / "obama1.jpg"))
    text = served.get("/metrics").text
    version = file_version(served.paths["model"])
    assert (
        'facerec_requests_total{method="POST",route="/api/v1/recognize",status="200"} 1.0' in text
    )
    detector = served.service.pool.first.detector.spec.id
    assert f'facerec_recognizer_info{{detector="{detector}",embedder=' in text
    assert f'version="{version}"' in text
    assert 'facerec_faces_total{endpoint="recognize"} 1.0' in text
    assert "facerec_gallery_faces 11.0" in text
    assert served.get("/openapi.json").json()["info"]["title"] == "facerec"
    assert "swagger-ui" in served.get("/docs").text  # served from the package, not a CDN
    page = served.get("/", headers={"X-API-Key": ""})
    assert "Recognize a photo" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


# -- enrolment, learning without a restart ---------------------------------------------------


def test_an_enrolment_is_recognized_by_the_next_request_then_refitted(served):
    paths, gallery = served.paths, served.service.gallery
    before = served.post(f"{API}/recognize", files=upload(PENNY[1])).json()
    assert names(before) == ["unknown"]

    r = served.post(f"{API}/people/penny/faces", files=upload(PENNY[0]))
    assert r.status_code == 201, r.text
    face = r.json()["face"]
    assert (paths["dataset"] / "penny" / face["id"]).read_bytes() == PENNY[0].read_bytes()

    now = served.post(f"{API}/recognize", files=upload(PENNY[1])).json()  # no wait at all
    assert names(now) == ["penny"]
    assert now["faces"][0]["by"] == "nearest" and now["recognizer"]["up_to_date"] is False

    assert gallery.wait_until_trained(30)
    later = served.post(f"{API}/recognize", files=upload(PENNY[1])).json()
    assert names(later) == ["penny"] and later["faces"][0]["by"] == "recognizer"
    assert later["recognizer"]["version"] == file_version(paths["model"])
    assert later["recognizer"]["version"] != before["recognizer"]["version"]

    # the same photo again is not a second face
    again = served.post(f"{API}/people/penny/faces", files=upload(PENNY[0]))
    assert again.status_code == 200 and again.json()["created"] is False


def test_http_enrolments_are_what_the_cli_sees(served, capsys):
    paths = served.paths
    for photo in PENNY[:2]:
        assert served.post(f"{API}/people/penny/faces", files=upload(photo)).status_code == 201
    assert served.service.gallery.wait_until_trained(30)
    found = run_json(capsys, "find", str(PENNY[3]), "--store", str(paths["store"]), "-k", "1")
    assert found["neighbours"][0]["person"] == "penny"
    out = paths["store"].parent / "export"
    exported = run_json(capsys, "export", "--store", str(paths["store"]), "-o", str(out))
    assert exported["faces"] == 13
    recognized = run_json(
        capsys, "recognize", str(PENNY[4]), "--model", str(paths["model"]), "--no-output"
    )
    assert [f["name"] for f in recognized["images"][0]["faces"]] == ["penny"]
    # extract-embeddings on the same folder (server stopped) finds nothing to change
    close(served.service)
    report = run_json(
        capsys,
        "extract-embeddings",
        "--dataset",
        str(paths["dataset"]),
        "--store",
        str(paths["store"]),
    )
    assert (report["embedded"], report["removed"], report["unchanged"]) == (0, 0, 13)


def test_naming_one_face_of_a_group_photo_enrols_that_face(served):
    group = EXAMPLES / "obama_and_biden.jpg"
    doc = served.post(f"{API}/recognize", files=upload(group)).json()
    girl = next(f for f in doc["faces"] if f["name"] == "unknown")
    r = served.post(
        f"{API}/people/malia/faces",
        files=upload(group),
        data={"box": ",".join(map(str, girl["box"]))},
    )
    assert r.status_code == 201, r.text
    stored = served.paths["dataset"] / "malia" / r.json()["face"]["id"]
    assert stored.suffix == ".png"  # a crop around her face, so that she is its main face
    crop = cv2.imread(str(stored))
    assert crop.shape[0] < 600 and crop.shape[1] < 600
    again = served.post(f"{API}/recognize", files=upload(group)).json()
    assert names(again) == ["biden", "malia", "obama"]
    malia = next(f for f in again["faces"] if f["name"] == "malia")
    # her own crop, not anyone else: looking down at the photo's edge, her landmarks move a
    # little between the crop and the group photo (0.46 with SFace; strangers are above 1.1)
    assert malia["distance"] < 0.5


def test_people_can_be_created_renamed_and_deleted(served, capsys):
    paths = served.paths
    r = served.post(f"{API}/people", json={"name": "José Álvarez"})
    assert r.status_code == 201 and (paths["dataset"] / "José Álvarez").is_dir()
    listed = {p["name"]: p["faces"] for p in served.get(f"{API}/people").json()["people"]}
    assert listed["José Álvarez"] == 0
    error_of(served.post(f"{API}/people", json={"name": "obama"}), 409, "person_exists")

    assert served.post(f"{API}/people/penny/faces", files=upload(PENNY[0])).status_code == 201
    r = served.patch(f"{API}/people/penny", json={"name": "penny_hofstadter"})
    assert r.status_code == 200, r.text
    assert not (paths["dataset"] / "penny").exists()
    assert len(list((paths["dataset"] / "penny_hofstadter").iterdir())) == 1
    doc = served.post(f"{API}/recognize", files=upload(PENNY[1])).json()
    assert names(doc) == ["penny_hofstadter"]
    error_of(served.patch(f"{API}/people/biden", json={"name": "obama"}), 409, "person_exists")

    face_id = served.get(f"{API}/people/biden/faces").json()["faces"][0]["id"]
    assert served.delete(f"{API}/people/biden/faces/{face_id}").status_code == 200
    assert not (paths["dataset"] / "biden" / face_id).exists()
    error_of(served.delete(f"{API}/people/biden/faces/{face_id}"), 404, "unknown_face")

    deleted = served.delete(f"{API}/people/kit_harington").json()
    assert deleted == deleted | {"deleted": "kit_harington", "faces": 2}
    assert not (paths["dataset"] / "kit_harington").exists()
    error_of(served.get(f"{API}/people/kit_harington"), 404, "unknown_person")
    doc = served.post(f"{API}/recognize", files=upload(EXAMPLES / "johnsnow_test1.jpg")).json()
    assert names(doc) == ["unknown"]  # at once, before the refit

    assert served.service.gallery.wait_until_trained(30)
    out = paths["store"].parent / "export"
    run_json(capsys, "export", "--store", str(paths["store"]), "-o", str(out))
    rows = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    assert Counter(r["person"] for r in rows) == {
        "alex_lacamoire": 1,
        "biden": 1,
        "lin_manuel_miranda": 1,
        "obama": 3,
        "penny_hofstadter": 1,
        "rose_leslie": 2,
    }


# -- bad inputs: each its 4xx JSON error -----------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
        + b"\0" * 64
    )


def test_bad_images_get_their_errors(served):
    rec = f"{API}/recognize"
    error_of(served.post(rec), 400, "no_file")
    error_of(served.post(rec, files={"picture": ("a.jpg", b"x")}), 400, "no_file")
    error_of(served.post(rec, files={"file": ("a.jpg", b"")}), 400, "empty_file")
    error_of(served.post(rec, files={"file": ("a.jpg", b"GIF89a not really")}), 400, "not_an_image")
    text = (Path(__file__)).read_bytes()
    error_of(served.post(rec, files={"file": ("notes.txt", text)}), 400, "not_an_image")
    message = error_of(
        served.post(rec, files={"file": ("big.png", _png_header(9000, 9000))}),
        413,
        "too_many_pixels",
    )
    assert "9000x9000" in message
    error_of(served.post(rec, files={"file": ("huge.jpg", b"\xff" * (4 << 20))}), 413, "too_large")
    blank = cv2.imencode(".png", np.full((200, 200, 3), 127, np.uint8))[1].tobytes()
    error_of(
        served.post(f"{API}/people/nobody/faces", files={"file": ("b.png", blank)}), 422, "no_face"
    )
    error_of(
        served.post(
            f"{API}/verify", files={"a": ("b.png", blank)} | upload(EXAMPLES / "obama1.jpg", "b")
        ),
        422,
        "no_face",
    )
    error_of(served.post(f"{API}/find", files={"file": ("b.png", blank)}), 422, "no_face")
    error_of(
        served.post(f"{API}/find?k=0", files=upload(EXAMPLES / "obama1.jpg")), 422, "bad_request"
    )
    error_of(
        served.post(
            f"{API}/people/obama/faces",
            files=upload(EXAMPLES / "obama1.jpg"),
            data={"box": "1,2,3"},
        ),
        422,
        "bad_request",
    )
    error_of(
        served.post(
            f"{API}/people/obama/faces",
            files=upload(EXAMPLES / "obama1.jpg"),
            data={"box": "0,0,10,10"},
        ),
        422,
        "no_face",
    )


def test_too_many_faces_is_refused(trained, recognizer, tmp_path):
    with in_process(trained, recognizer, tmp_path, Limits(faces=3, rate=0)) as client:
        r = client.post(f"{API}/recognize", files=upload(EXAMPLES / "bbt1.jpg"))
        assert "4 faces" in error_of(r, 422, "too_many_faces")
        r = client.post(f"{API}/recognize", files=upload(EXAMPLES / "obama_and_biden.jpg"))
        assert r.status_code == 200


def test_keys_are_required_and_checked(served):
    rec, photo = f"{API}/recognize", upload(EXAMPLES / "obama1.jpg")
    error_of(served.get(f"{API}/people", headers={"X-API-Key": ""}), 401, "missing_key")
    error_of(
        served.get(f"{API}/people", headers={"X-API-Key": "guess-0123456789abcdef"}),
        401,
        "wrong_key",
    )
    error_of(served.post(rec, files=photo, headers={"X-API-Key": ""}), 401, "missing_key")
    error_of(served.get("/metrics", headers={"X-API-Key": ""}), 401, "missing_key")
    assert (
        served.post(
            rec, files=photo, headers={"X-API-Key": "", "Authorization": f"Bearer {READ_KEY}"}
        ).status_code
        == 200
    )
    assert served.post(rec, files=photo, headers={"X-API-Key": READ_KEY}).status_code == 200
    error_of(
        served.post(f"{API}/people", json={"name": "x"}, headers={"X-API-Key": READ_KEY}),
        403,
        "read_only_key",
    )
    error_of(
        served.delete(f"{API}/people/obama", headers={"X-API-Key": READ_KEY}), 403, "read_only_key"
    )
    error_of(
        served.post(
            f"{API}/people/obama/faces",
            files=photo,
            headers={"X-API-Key": "", "Authorization": "Bearer nope"},
        ),
        401,
        "wrong_key",
    )
    assert (served.paths["dataset"] / "obama").is_dir()


def test_keys_stay_out_of_the_logs(served, caplog):
    with caplog.at_level("DEBUG"):
        served.get(f"{API}/people", headers={"X-API-Key": "guess-0123456789abcdef"})
        served.get(f"{API}/people")
    assert WRITE_KEY not in caplog.text and "guess-0123456789abcdef" not in caplog.text


@pytest.mark.parametrize(
    "name",
    ["..", ".hidden", "unknown", "Unknown ", " padded", "bad\x01name", "a\u202eb", "x" * 101],
)
def test_bad_names_are_refused(served, name):
    error_of(served.post(f"{API}/people", json={"name": name}), 422, "bad_name")
    error_of(served.patch(f"{API}/people/obama", json={"name": name}), 422, "bad_name")
    assert sorted(p.name for p in served.paths["dataset"].iterdir()) == sorted(
        p.name for p in DATASET.iterdir() if p.is_dir()
    )


def test_names_with_separators_never_reach_the_disk(served):
    for raw in ("a%2Fb", "a%5Cb", "%2E%2E", "a%00b"):
        r = served.post(f"{API}/people/{raw}/faces", files=upload(PENNY[0]))
        assert r.status_code in (404, 422), r.text
        assert r.json()["error"] in ("bad_name", "not_found")
    files = sorted(
        p.relative_to(served.paths["dataset"]) for p in served.paths["dataset"].rglob("*")
    )
    assert files == sorted(
        p.relative_to(DATASET) for p in DATASET.rglob("*") if p.suffix not in (".md", ".txt")
    )


def test_unknown_people_and_faces(served):
    error_of(served.get(f"{API}/people/nobody"), 404, "unknown_person")
    error_of(served.get(f"{API}/people/nobody/faces"), 404, "unknown_person")
    error_of(served.patch(f"{API}/people/nobody", json={"name": "somebody"}), 404, "unknown_person")
    error_of(served.delete(f"{API}/people/nobody"), 404, "unknown_person")
    error_of(served.delete(f"{API}/people/obama/faces/nothing.jpg"), 404, "unknown_face")
    error_of(served.delete(f"{API}/people/obama/faces/..%2Fbiden%2Fbiden.jpg"), 404, "unknown_face")
    error_of(served.get(f"{API}/nothing"), 404, "not_found")
    error_of(served.put(f"{API}/recognize"), 405, "method_not_allowed")
    error_of(
        served.post(
            f"{API}/people", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "bad_request",
    )
    assert (DATASET / "biden" / "biden.jpg").exists()


def test_the_rate_per_client_is_limited(trained, recognizer, tmp_path):
    with in_process(trained, recognizer, tmp_path, Limits(rate=1, burst=3)) as client:
        codes = [client.get(f"{API}/people").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        r = client.get(f"{API}/people")
        error_of(r, 429, "rate_limited")
        assert int(r.headers["retry-after"]) >= 1
        assert client.get(f"{API}/health").status_code == 200  # probes are not limited


def test_an_empty_gallery_starts_learns_and_restarts(recognizer, tmp_path):
    """No photo at all: faces are unknown (no distance); a person without photos survives a
    restart as a folder; the first enrolment is recognized at once, by the nearest face."""
    paths = {
        "dataset": tmp_path / "people",
        "store": tmp_path / "e.db",
        "model": tmp_path / "r.skops",
    }
    limits = Limits(rate=0)
    with in_process(None, recognizer, tmp_path, limits, debounce=30, paths=paths) as client:
        doc = client.post(f"{API}/recognize", files=upload(PENNY[1])).json()
        assert [(f["name"], f["distance"], f["by"]) for f in doc["faces"]] == [
            ("unknown", None, "nearest")
        ]
        assert doc["recognizer"]["version"] == "none"
        assert client.post(f"{API}/people", json={"name": "ada"}).status_code == 201
    with in_process(None, recognizer, tmp_path, limits, debounce=30, paths=paths) as client:
        assert client.get(f"{API}/people").json()["people"] == [{"name": "ada", "faces": 0}]
        assert client.post(f"{API}/people/penny/faces", files=upload(PENNY[0])).status_code == 201
        doc = client.post(f"{API}/recognize", files=upload(PENNY[1])).json()
        assert [(f["name"], f["by"]) for f in doc["faces"]] == [("penny", "nearest")]
        assert not paths["model"].exists()  # the refit waits for 30 quiet seconds


def test_a_damaged_stored_row_does_not_stop_the_server(trained, recognizer, tmp_path):
    """The start embeds the image of a damaged row again, and serves every person."""
    import sqlite3

    from tests.serverkit import gallery_copy

    paths = gallery_copy(trained, tmp_path)
    with sqlite3.connect(paths["store"]) as conn:
        conn.execute("UPDATE images SET embedding = X'00' WHERE relpath = 'obama/obama.jpg'")
    with in_process(None, recognizer, tmp_path, Limits(rate=0), paths=paths) as client:
        people = {p["name"]: p["faces"] for p in client.get(f"{API}/people").json()["people"]}
        assert people["obama"] == 3 and len(people) == 6
        named = client.post(f"{API}/recognize", files=upload(EXAMPLES / "obama1.jpg")).json()
        assert [f["name"] for f in named["faces"]] == ["obama"]


def test_the_audit_finds_a_face_enrolled_under_the_wrong_name(served):
    """GET /audit reads the live gallery: an Obama photo enrolled as Biden a moment ago is
    found, named for who it looks like; the answer is `facerec audit --json`'s document."""
    clean = served.get(f"{API}/audit")
    assert clean.status_code == 200, clean.text
    assert clean.json()["counts"]["someone_else"] == 0 and clean.json()["photos"] == 11
    r = served.post(f"{API}/people/biden/faces", files=upload(EXAMPLES / "obama1.jpg"))
    assert r.status_code == 201, r.text
    doc = served.get(f"{API}/audit").json()
    [found] = [f for f in doc["findings"] if f["kind"] == "someone_else"]
    assert found["photos"] == [f"biden/{r.json()['face']['id']}"] and found["other"] == "obama"
    assert found["numbers"]["other_distance"] < 1.04 < found["numbers"]["own_distance"]
    assert served.get(f"{API}/audit", headers={"X-API-Key": READ_KEY}).status_code == 200
    error_of(served.get(f"{API}/audit", headers={"X-API-Key": "wrong"}), 401, "wrong_key")
