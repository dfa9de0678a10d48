"""Shared fixtures: repository paths and the one loaded FaceRecognizer (the only model cache)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.cli import main
from pipeline.core import FaceRecognizer

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "dataset"
EXAMPLES = ROOT / "examples"
BBT = ROOT / "tests" / "data" / "bbt"
CLIP = EXAMPLES / "short_hamilton_clip.mp4"


@pytest.fixture(scope="session")
def recognizer() -> FaceRecognizer:
    return FaceRecognizer.from_models_dir()


# Who each picture in examples/ shows, for a recognizer trained on dataset/ (bbt1: 4 strangers).
EXAMPLE_NAMES = {
    # YuNet also finds the girl at the right edge, looking down, whom the SSD missed
    "obama_and_biden.jpg": ["biden", "obama", "unknown"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "obama1.jpg": ["obama"],
    "bbt1.jpg": ["unknown"] * 4,
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    """Run the CLI in-process with --json; assert exit 0 and return the parsed stdout."""
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def names_in(doc: dict) -> dict[str, list[str]]:
    """{image file name: sorted face names} from a recognize JSON document."""
    return {Path(i["path"]).name: sorted(f["name"] for f in i["faces"]) for i in doc["images"]}


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled dataset extracted and trained once, through the CLI."""

    work = tmp_path_factory.mktemp("trained")
    store, model = work / "embeddings.db", work / "recognizer.skops"
    assert main(["extract-embeddings", "--dataset", str(DATASET), "--store", str(store)]) == 0
    assert main(["train-model", "--store", str(store), "--model", str(model)]) == 0
    return {"store": store, "model": model, "work": work}


def copy_dataset(dest: Path, people: list[str] | None = None) -> Path:
    """Copy (part of) the bundled dataset to dest and return it."""
    for person in people or [p.name for p in DATASET.iterdir() if p.is_dir()]:
        shutil.copytree(DATASET / person, dest / person)
    return dest


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory):
    """A real PostgreSQL with pgvector (PyPI pgserver), on a Unix socket in a temporary
    folder, for the session; skipped when pgserver is not installed."""
    pgserver = pytest.importorskip("pgserver", reason="the postgres test server is not installed")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR not set
        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def pg_url(pg_server, request: pytest.FixtureRequest) -> str:
    """A new, empty database on the session's server: its postgresql:// URL."""
    import re

    import psycopg

    name = "t_" + re.sub(r"[^a-z0-9]", "_", request.node.name.lower())[:50]
    base = pg_server.get_uri()
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.replace("/postgres?", f"/{name}?")
