"""The Python API: every README example runs and prints the right names and distances; an
RGB/BGR mix-up cannot pass silently; find and export work from the command line too."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re

import cv2
import numpy as np
import pytest
from conftest import DATASET, EXAMPLES, ROOT, run_json

from pipeline import FaceRec, load_image
from pipeline.errors import ImageError, NoFaceError, NotTrainedError


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_every_readme_example_runs_and_prints_what_it_says(trained) -> None:
    """The examples use the demo's output/ files; here they point at the session's."""
    blocks = readme_examples()
    assert len(blocks) == 3
    namespace: dict = {}
    out = io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)  # the examples name repository files relative to it
    try:
        with contextlib.redirect_stdout(out):
            for block in blocks:
                code = block.replace("output/recognizer.skops", str(trained["model"]))
                code = code.replace("output/embeddings.db", str(trained["store"]))
                exec(compile(code, "README.md", "exec"), namespace)  # our own README, not input
    finally:
        os.chdir(cwd)
    assert out.getvalue().splitlines() == [
        "True 0.61",
        "3 [1142, 361, 1325, 601]",
        "(1, 128)",
        "0.61",
        "obama 0.54",
        "biden 0.65",
        "unknown 1.22",
        "obama obama/obama2.jpg 0.58",
        "obama obama/obama.jpg 0.61",
    ]


@pytest.fixture(scope="module")
def fr() -> FaceRec:
    return FaceRec()


def test_an_array_must_say_its_channel_order(fr: FaceRec) -> None:
    """The same photo as BGR and as RGB: each gives the file's distance when its order is
    said; the wrong order moves it by far more than noise; no order is refused."""
    bgr = cv2.imread(str(EXAMPLES / "obama1.jpg"))
    rgb = np.ascontiguousarray(bgr[..., ::-1])
    reference = DATASET / "obama" / "obama.jpg"
    from_file = fr.verify(reference, EXAMPLES / "obama1.jpg").distance
    assert fr.verify(reference, bgr, channels="bgr").distance == pytest.approx(from_file, abs=1e-4)
    assert fr.verify(reference, rgb, channels="rgb").distance == pytest.approx(from_file, abs=1e-4)
    assert abs(fr.verify(reference, rgb, channels="bgr").distance - from_file) > 0.1
    for array in (bgr, rgb):
        with pytest.raises(ImageError, match="channels='rgb'"):
            fr.verify(reference, array)
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)  # 2-D: no order to say
    assert len(fr.detect(grey)) == 1


def test_bytes_paths_and_errors(fr: FaceRec, tmp_path) -> None:
    data = (EXAMPLES / "obama1.jpg").read_bytes()
    assert load_image(data).shape == load_image(EXAMPLES / "obama1.jpg").shape
    with pytest.raises(ImageError, match="no such file"):
        fr.detect(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="uint8"):
        load_image(np.zeros((10, 10, 3), np.float32))
    blank = np.full((200, 200, 3), 127, np.uint8)
    with pytest.raises(NoFaceError):
        fr.verify(blank, EXAMPLES / "obama1.jpg", channels="bgr")
    with pytest.raises(NotTrainedError):
        fr.recognize(EXAMPLES / "obama1.jpg")
    assert fr.embed(blank, channels="bgr").shape == (0, 128)  # SFace, the default


def test_find_puts_an_obama_image_first(capsys, trained) -> None:
    doc = run_json(capsys, "find", str(EXAMPLES / "obama1.jpg"), "--store", str(trained["store"]))
    first = doc["neighbours"][0]
    assert first["person"] == "obama" and first["path"].startswith("obama/")
    assert len(doc["neighbours"]) == 5
    distances = [n["distance"] for n in doc["neighbours"]]
    assert distances == sorted(distances)


def test_export_round_trips(capsys, trained, tmp_path) -> None:
    from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec
    from pipeline.stores.sqlite import EmbeddingStore

    out = tmp_path / "export"
    doc = run_json(capsys, "export", "--store", str(trained["store"]), "--output", str(out))
    assert doc["faces"] == 11
    spec = embedder_spec(DEFAULT_EMBEDDER)
    with EmbeddingStore.open_existing(trained["store"], spec.id, spec.output_dim) as store:
        names, vectors, relpaths = store.embeddings()
    exported = np.load(out / "embeddings.npy", allow_pickle=False)
    assert exported.dtype == np.float32 and np.array_equal(exported, vectors)
    lines = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    assert [r["path"] for r in lines] == relpaths and [r["person"] for r in lines] == names
    assert np.array_equal(np.array([r["embedding"] for r in lines], np.float32), vectors)
    rows = (out / "faces.csv").read_text().splitlines()
    assert rows[0].startswith("row,person,path,face,x1") and len(rows) == 12


def test_detect_needs_no_model(capsys, tmp_path) -> None:
    doc = run_json(capsys, "detect", str(EXAMPLES / "bbt1.jpg"), "--output", str(tmp_path))
    [image] = doc["images"]
    assert len(image["faces"]) == 4
    assert all(len(f["landmarks"]) == 5 and f["score"] > 0.7 for f in image["faces"])
    assert (tmp_path / "bbt1.jpg").is_file()


def test_all_faces_keeps_every_face_for_find_and_export(capsys, tmp_path) -> None:
    """A group photo in a person's folder: its main face trains the person, and with
    --all-faces the other faces are kept too, so find reaches Biden in Obama's group photo."""
    from conftest import copy_dataset

    dataset = copy_dataset(tmp_path / "dataset", ["obama", "alex_lacamoire"])
    (dataset / "obama" / "group.jpg").write_bytes((EXAMPLES / "obama_and_biden.jpg").read_bytes())
    store = str(tmp_path / "all.db")
    report = run_json(capsys, "extract-embeddings", "-d", str(dataset), "-e", store, "--all-faces")
    assert report["people"] == {"alex_lacamoire": 1, "obama": 4} and report["faces_stored"] == 7
    near = run_json(capsys, "find", str(DATASET / "biden" / "biden.jpg"), "-e", store, "-k", "1")
    assert near["neighbours"][0]["path"] == "obama/group.jpg"
    assert near["neighbours"][0]["distance"] < 0.8  # Biden's own face in the group photo
    out = tmp_path / "export"
    run_json(capsys, "export", "-e", store, "-o", str(out))
    rows = [json.loads(line) for line in (out / "faces.jsonl").read_text().splitlines()]
    assert sorted(r["face"] for r in rows if r["path"] == "obama/group.jpg") == [0, 1, 2]
    # the store keeps its way: a plain run on it is the same run; asking otherwise is refused
    again = run_json(capsys, "extract-embeddings", "-d", str(dataset), "-e", store)
    assert again["embedded"] == 0 and again["faces_stored"] == 7
    plain = str(tmp_path / "plain.db")
    run_json(capsys, "extract-embeddings", "-d", str(dataset), "-e", plain)
    from pipeline.cli import main

    assert main(["extract-embeddings", "-d", str(dataset), "-e", plain, "--all-faces"]) == 1
    assert "made without --all-faces" in capsys.readouterr().err


def test_a_recognizer_refuses_another_detector_from_python_too(trained) -> None:
    """The check lives in FaceRecognizer.from_models_dir, so FaceRec has it as the CLI does."""
    from pipeline.errors import IncompatibleModelError

    with pytest.raises(IncompatibleModelError, match="trained on faces found by yunet"):
        FaceRec(trained["model"], detector="ssd")
    assert FaceRec(trained["model"]).recognizer.detector.spec.id == "yunet-2026may-640"
