"""Galleries keep the embedder they were made with; `facerec migrate` moves one to SFace.

A FaceNet gallery (store + recognizer file) made before SFace became the default must go on
working with no flag, and move over in one command that keeps a backup and loses nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import skops.io as sio
from conftest import DATASET, EXAMPLE_NAMES, EXAMPLES, copy_dataset, names_in, run_json

from pipeline.classify import IdentityClassifier
from pipeline.cli import main
from pipeline.registry import embedder_spec
from pipeline.stores.sqlite import EmbeddingStore

FACENET = embedder_spec("facenet").id
SFACE = embedder_spec("sface").id


@pytest.fixture
def facenet_gallery(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    """A gallery made the way a FaceNet user made it: dataset, store and recognizer file."""
    dataset = copy_dataset(tmp_path / "dataset")
    store, model = tmp_path / "embeddings.db", tmp_path / "recognizer.skops"
    assert (
        main(["extract-embeddings", "-d", str(dataset), "-e", str(store), "--embedder", "facenet"])
        == 0
    )
    assert main(["train-model", "-e", str(store), "-r", str(model)]) == 0  # follows the store
    capsys.readouterr()
    return {"dataset": dataset, "store": store, "model": model}


def test_a_facenet_gallery_keeps_working_without_a_flag(capsys, facenet_gallery) -> None:
    g = facenet_gallery
    assert IdentityClassifier.load(g["model"]).embedder_id == FACENET
    doc = run_json(capsys, "recognize", str(EXAMPLES), "-r", str(g["model"]), "--no-output")
    assert names_in(doc) == EXAMPLE_NAMES
    assert doc["max_distance"] == pytest.approx(1.04)  # FaceNet's own ceiling, not SFace's
    found = run_json(capsys, "find", str(EXAMPLES / "obama1.jpg"), "-e", str(g["store"]), "-k", "1")
    assert found["neighbours"][0]["person"] == "obama"
    again = run_json(capsys, "extract-embeddings", "-d", str(g["dataset"]), "-e", str(g["store"]))
    assert again["unchanged"] == 11 and again["embedded"] == 0
    exported = run_json(
        capsys, "export", "-e", str(g["store"]), "--output", str(g["store"].parent / "x")
    )
    assert exported["embedder"] == FACENET


def test_migrate_moves_the_gallery_to_sface_and_keeps_a_backup(capsys, facenet_gallery) -> None:
    g = facenet_gallery
    doc = run_json(
        capsys, "migrate", "-d", str(g["dataset"]), "-e", str(g["store"]), "-r", str(g["model"])
    )
    assert (doc["embedder_before"], doc["embedder_after"]) == (FACENET, SFACE)
    assert doc["extract"]["embedded"] == 11 and doc["train"]["embedder"] == SFACE
    backup = Path(doc["backup"])
    assert EmbeddingStore.made_with(backup) == (FACENET, "yunet-2026may-640")
    assert EmbeddingStore.made_with(g["store"]) == (SFACE, "yunet-2026may-640")
    assert sorted(p.name for p in g["store"].parent.iterdir() if "migrating" in p.name) == []
    assert IdentityClassifier.load(g["model"]).embedder_id == SFACE
    named = run_json(capsys, "recognize", str(EXAMPLES), "-r", str(g["model"]), "--no-output")
    assert names_in(named) == EXAMPLE_NAMES
    twice = run_json(
        capsys, "migrate", "-d", str(g["dataset"]), "-e", str(g["store"]), "-r", str(g["model"])
    )
    assert twice["extract"] is None and twice["backup"] is None  # nothing left to move


def test_migrate_refuses_a_dataset_that_lacks_the_stores_images(capsys, facenet_gallery) -> None:
    g = facenet_gallery
    assert (
        main(
            ["migrate", "-d", str(DATASET / "obama"), "-e", str(g["store"]), "-r", str(g["model"])]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "11 of the 11 images" in err and "--dataset" in err and len(err.splitlines()) == 1
    assert EmbeddingStore.made_with(g["store"])[0] == FACENET  # untouched
    assert IdentityClassifier.load(g["model"]).embedder_id == FACENET


def test_a_recognizer_file_from_before_the_rule_was_recorded_uses_centres(
    tmp_path, trained
) -> None:
    """Format 2 files (every recognizer file before SFace) measured distances to centres."""
    model = IdentityClassifier.load(trained["model"])
    state = model._state()
    state["format_version"] = 2
    del state["rule"]
    old = tmp_path / "old.skops"
    sio.dump(state, old)
    loaded = IdentityClassifier.load(old)
    assert loaded.rule == "centre" and model.rule == "centre-or-nearest"
    vectors = model.gallery[:3]
    assert [m.candidate for m in loaded.predict(vectors)] == [
        m.candidate for m in model.predict(vectors)
    ]
    assert json.dumps(loaded.calibration)  # the rest of the file reads as before
