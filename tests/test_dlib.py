"""The optional dlib embedder, end to end on the repository's real faces. Runs when the extra is
installed (pip install '.[dlib]'; CI installs it); the install hint is in test_models_real.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import BBT, CLIP, DATASET, EXAMPLE_NAMES, EXAMPLES, ROOT, names_in, run_json

from pipeline.cli import main

pytestmark = pytest.mark.slow  # runs dlib's 150 ms-a-face embedder

dlib = pytest.importorskip("dlib")


@pytest.fixture(scope="module")
def dlib_trained(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("dlib")
    store, model = work / "e.db", work / "r.skops"
    argv = ["--embedder", "dlib"]
    assert main(["extract-embeddings", "-d", str(DATASET), "-e", str(store), *argv]) == 0
    assert main(["train-model", "-e", str(store), "-r", str(model), *argv]) == 0
    return {"store": store, "model": model, "work": work}


def test_dlib_recognizes_the_examples(capsys, dlib_trained) -> None:
    doc = run_json(
        capsys,
        "recognize",
        str(EXAMPLES),
        "--embedder",
        "dlib",
        "--model",
        str(dlib_trained["model"]),
        "--no-output",
    )
    # dlib runs on the SSD's boxes (its own detector, measured on LFW), and the SSD misses the
    # girl at the edge of obama_and_biden.jpg that YuNet finds
    assert names_in(doc) == {**EXAMPLE_NAMES, "obama_and_biden.jpg": ["biden", "obama"]}


def test_dlib_video(capsys, dlib_trained) -> None:
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--no-output",
        "--embedder",
        "dlib",
        "--model",
        str(dlib_trained["model"]),
    )
    assert doc["names"].get("lin_manuel_miranda", 0) >= 120
    assert set(doc["names"]) <= {"lin_manuel_miranda", "unknown"}


def test_dlib_evaluation_commands(capsys) -> None:
    pairs = run_json(
        capsys,
        "evaluate-pairs",
        str(ROOT / "tests" / "data" / "pairs.csv"),
        "--root",
        str(ROOT),
        "--embedder",
        "dlib",
        "--no-plots",
    )
    assert pairs["embedder"] == "dlib-resnet-v1-128-flip" and pairs["missing"] == 0
    assert pairs["accuracy_at_default"] >= 0.98 and pairs["accuracy_10fold"] >= 0.98
    assert pairs["auc"] >= 0.99
    ident = run_json(
        capsys, "evaluate", str(BBT), "--unknown", str(DATASET), "--embedder", "dlib", "--no-plots"
    )
    assert ident["known_accuracy"] >= 0.97 and ident["unknown_rejected"] >= 0.95
    same = run_json(
        capsys,
        "verify",
        str(DATASET / "obama" / "obama.jpg"),
        str(EXAMPLES / "obama1.jpg"),
        "--embedder",
        "dlib",
    )
    assert same["same"] is True and same["threshold"] == pytest.approx(0.42)


def test_mixing_embedders_is_refused(capsys, trained, dlib_trained) -> None:
    # an SFace store cannot take dlib embeddings, nor a dlib model answer SFace faces; without
    # --embedder, each command follows the gallery it is given
    assert (
        main(
            [
                "extract-embeddings",
                "-d",
                str(DATASET),
                "-e",
                str(trained["store"]),
                "--embedder",
                "dlib",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "built with embedder sface-2021dec-int8bq-128, but dlib-resnet-v1-128" in err
    assert "facerec migrate" in err
    doc = run_json(
        capsys,
        "recognize",
        str(EXAMPLES / "obama1.jpg"),
        "--model",
        str(dlib_trained["model"]),
        "--no-output",
    )
    assert [f["name"] for f in doc["images"][0]["faces"]] == ["obama"]
    assert (
        main(
            [
                "recognize",
                str(EXAMPLES / "obama1.jpg"),
                "--model",
                str(dlib_trained["model"]),
                "--embedder",
                "sface",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "built with embedder dlib-resnet-v1-128-flip" in err and "--embedder" in err
