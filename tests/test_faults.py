"""Nothing lost, nothing executed: kill -9 mid-run, two runs at once, old files, and what we
never do with a user's data."""

from __future__ import annotations

import hashlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import BBT, DATASET, EXAMPLES, ROOT, copy_dataset, run_json

from pipeline.classify import IdentityClassifier
from pipeline.cli import main
from pipeline.errors import IncompatibleModelError
from pipeline.registry import DEFAULT_EMBEDDER, embedder_spec
from pipeline.stores.sqlite import EmbeddingStore

pytestmark = pytest.mark.slow  # kills and restarts runs over a few hundred images

CLI = [sys.executable, "-m", "pipeline"]


def big_dataset(root: Path, copies: int = 3) -> Path:
    """bbt crops and dataset photos, copied so a run lasts a few seconds."""
    for rep in range(copies):
        for source in (BBT, DATASET):
            for person in (p for p in source.iterdir() if p.is_dir()):
                dest = root / person.name
                dest.mkdir(parents=True, exist_ok=True)
                for image in person.iterdir():
                    (dest / f"{rep}_{image.name}").write_bytes(image.read_bytes())
    return root


def kill_after(argv: list[str], seconds: float, ready: Callable[[], bool] | None = None) -> int:
    """Start the CLI, wait until `ready()` (if given), then `seconds`, then kill -9 it.

    Returns its exit status (negative = the signal).
    """
    proc = subprocess.Popen(
        CLI + argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while ready is not None and not ready() and proc.poll() is None:
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.05)
    time.sleep(seconds)
    proc.send_signal(signal.SIGKILL)
    return proc.wait()


def rows_stored(store: Path) -> int:
    """Rows in the store, read without disturbing the writer (0 before it exists)."""
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM images").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_kill_9_during_extract_leaves_a_consistent_store_and_the_rerun_resumes(
    capsys, tmp_path
) -> None:

    dataset = big_dataset(tmp_path / "dataset")
    images = sum(1 for _ in dataset.rglob("*.*g"))
    store = tmp_path / "e.db"
    # killed at a random moment once the first batch is stored (153 images take several s)
    delay = random.Random().uniform(0.0, 2.0)
    argv = ["extract-embeddings", "-d", str(dataset), "-e", str(store)]
    status = kill_after(argv, delay, ready=lambda: rows_stored(store) > 0)
    assert status == -signal.SIGKILL, "the run ended before it could be killed"
    # The store opens, passes SQLite's integrity check, and every stored row is whole.
    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = conn.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    ok_rows = conn.execute("SELECT COUNT(*) FROM images WHERE status = 'ok'").fetchone()[0]
    whole = embedder_spec(DEFAULT_EMBEDDER).output_dim * 4  # float32 bytes of one embedding
    broken = conn.execute(
        "SELECT COUNT(*) FROM images WHERE status = 'ok' AND length(embedding) != ?", (whole,)
    ).fetchone()[0]
    conn.close()
    assert broken == 0 and done < images
    doc = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", str(store))
    assert doc["unchanged"] == ok_rows  # what was stored before the kill is not redone
    assert doc["embedded"] + doc["unchanged"] + len(doc["skipped"]) == images


def test_kill_9_during_train_keeps_the_previous_recognizer(capsys, tmp_path) -> None:
    dataset = big_dataset(tmp_path / "dataset", copies=2)
    store, model = tmp_path / "e.db", tmp_path / "r.skops"
    run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", str(store))
    run_json(capsys, "train-model", "--store", str(store), "--model", str(model))
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    for _ in range(3):
        delay = random.Random().uniform(1.0, 3.0)
        kill_after(
            ["train-model", "-e", str(store), "-r", str(model), "--classifier", "svm"], delay
        )
        loaded = IdentityClassifier.load(model)  # old or new, never half of one
        assert loaded.mode == "svm" and len(loaded.classes_) == 14
    # if the kill landed after the rename, the file is the new model: still whole
    assert IdentityClassifier.load(model).classes_ == IdentityClassifier.load(model).classes_
    assert before  # the previous one was a real file too


def test_a_second_writer_is_refused_while_the_first_runs(capsys, tmp_path) -> None:
    store = tmp_path / "e.db"
    spec = embedder_spec("facenet")
    with EmbeddingStore(store, spec.id, spec.output_dim):
        code = main(["extract-embeddings", "--dataset", str(DATASET), "--store", str(store)])
        err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [
        f"error: {store}: another facerec run (pid {os.getpid()}) is writing this store; "
        "wait for it to finish, or pass another --store"
    ]
    # once the first is done, the same command works, and training may read meanwhile
    assert main(["extract-embeddings", "--dataset", str(DATASET), "--store", str(store)]) == 0


def test_a_second_extraction_while_one_runs_says_why(tmp_path) -> None:
    """Two real processes: the second starts while the first is writing, and stops at once."""
    dataset = big_dataset(tmp_path / "dataset", copies=3)
    store = tmp_path / "e.db"
    argv = CLI + ["extract-embeddings", "-d", str(dataset), "-e", str(store)]
    first = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 120
    while rows_stored(store) == 0:  # the first holds the lock and is writing
        assert first.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    assert first.poll() is None, "the first run finished before the second could be refused"
    assert first.wait() == 0
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"error: {store}: another facerec run (pid {first.pid}) is writing this store; "
        "wait for it to finish, or pass another --store"
    ]
    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_recognizer_from_an_older_version_names_the_fix(tmp_path) -> None:
    import skops.io as sio

    path = tmp_path / "old.skops"
    sio.dump({"format": "facerec-recognizer", "format_version": 0}, path)
    with pytest.raises(IncompatibleModelError, match="re-run train-model"):
        IdentityClassifier.load(path)


def test_no_pickle_joblib_or_eval_in_the_package() -> None:
    # imports or calls of unpickling modules, and eval/exec; a comment saying "no pickle" is fine
    pattern = re.compile(
        r"^\s*(import|from)\s+(pickle|cPickle|joblib|dill|shelve|marshal)\b"
        r"|\b(pickle|joblib|dill|shelve|marshal)\.\w+\("
        r"|(?<![\w.])(eval|exec)\("
    )
    offenders = [
        f"{path.name}:{n}"
        for path in (ROOT / "pipeline").glob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []


def tree_state(root: Path) -> dict[str, tuple[str, int]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_inputs_are_never_modified_and_outputs_stay_where_asked(capsys, tmp_path) -> None:
    inputs = tmp_path / "inputs"
    big_dataset(inputs / "dataset", copies=1)
    (inputs / "photos").mkdir()
    for name in ("obama_and_biden.jpg", "bbt1.jpg"):
        (inputs / "photos" / name).write_bytes((EXAMPLES / name).read_bytes())
    before = tree_state(inputs)
    out = tmp_path / "out"
    store, model = out / "e.db", out / "r.skops"
    run_json(
        capsys, "extract-embeddings", "--dataset", str(inputs / "dataset"), "--store", str(store)
    )
    run_json(capsys, "train-model", "--store", str(store), "--model", str(model))
    run_json(
        capsys,
        "recognize",
        str(inputs / "photos"),
        "--model",
        str(model),
        "--output",
        str(out / "annotated"),
    )
    run_json(capsys, "evaluate", str(inputs / "dataset"), "--output", str(out / "eval"))
    assert tree_state(inputs) == before
    written = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file()}
    assert all(w.startswith(("inputs/", "out/")) for w in written)
    assert {
        "out/annotated/obama_and_biden.jpg",
        "out/annotated/bbt1.jpg",
        "out/eval/confusion.png",
        "out/r.skops",
        "out/e.db",
    } <= written
    assert not [w for w in written if ".tmp" in w]  # no temporary files left behind


def test_a_store_and_a_recognizer_from_prewhitened_facenet_are_refused(capsys, tmp_path) -> None:
    """Files made before FaceNet got its trained (fixed) standardisation hold vectors that are
    not comparable with today's: refused in one line that names the fix, never mixed."""
    import numpy as np
    import skops.io as sio

    old_id = "facenet-20180408-512"
    store, model = tmp_path / "old.db", tmp_path / "old.skops"
    with EmbeddingStore(store, old_id, 512):
        pass
    sio.dump(
        {
            "format": "facerec-recognizer",
            "format_version": 1,
            "embedder_id": old_id,
            "gallery": np.zeros((1, 512), np.float32),
        },
        model,
    )
    fix = "delete it (or pass another {}), then re-run extract-embeddings and train-model"
    runs = [
        (["extract-embeddings", "-d", str(DATASET), "-e", str(store)], "--store"),
        (["train-model", "-e", str(store), "-r", str(tmp_path / "new.skops")], "--store"),
        (["recognize", str(EXAMPLES / "obama1.jpg"), "-r", str(model), "--no-output"], "--model"),
    ]
    for argv, option in runs:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and old_id in err[0] and "prewhitening" in err[0], err
        assert err[0].endswith(fix.format(option)), err


@pytest.mark.parametrize("command", ["extract-embeddings", "cluster"])
def test_a_run_that_fails_before_writing_leaves_nothing(capsys, tmp_path, command) -> None:
    """A missing or empty folder: one line, exit 1, and no empty .db or .lock (nor the output
    folder made for them) left behind."""
    (tmp_path / "empty").mkdir()
    store = tmp_path / "out" / "e.db"
    for folder in ("missing", "empty"):
        argv = (
            [command, "-d", str(tmp_path / folder)]
            if command == "extract-embeddings"
            else [command, str(tmp_path / folder)]
        )
        assert main([*argv, "--store", str(store)]) == 1
        assert len(capsys.readouterr().err.strip().splitlines()) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_a_damaged_row_in_the_store_is_left_out_and_embedded_again(capsys, tmp_path) -> None:
    """One stored vector of the wrong length, one of NaNs: train-model, find and export go on
    without them, saying which rows; extract-embeddings embeds those images again."""
    dataset = copy_dataset(tmp_path / "dataset")
    store, model = tmp_path / "e.db", tmp_path / "r.skops"
    run_json(capsys, "extract-embeddings", "-d", str(dataset), "-e", str(store))
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE images SET embedding = X'0000' WHERE relpath = 'obama/obama.jpg'")
        conn.execute(
            "UPDATE images SET embedding = ? WHERE relpath = 'biden/biden.jpg'",
            (np.full(128, np.nan, np.float32).tobytes(),),
        )
    doc = run_json(capsys, "train-model", "-e", str(store), "-r", str(model))
    assert sum(doc["people"].values()) == 9 and doc["people"]["obama"] == 2
    found = run_json(capsys, "find", str(EXAMPLES / "obama1.jpg"), "-e", str(store), "-k", "9")
    assert {n["path"] for n in found["neighbours"]}.isdisjoint(
        {"obama/obama.jpg", "biden/biden.jpg"}
    )
    exported = run_json(capsys, "export", "-e", str(store), "--output", str(tmp_path / "x"))
    assert exported["faces"] == 9
    again = run_json(capsys, "extract-embeddings", "-d", str(dataset), "-e", str(store))
    assert again["embedded"] == 2 and again["unchanged"] == 9
    assert (
        run_json(capsys, "export", "-e", str(store), "--output", str(tmp_path / "y"))["faces"] == 11
    )


def test_a_damaged_row_is_named_in_one_line(tmp_path) -> None:
    """What the user sees on stderr: one warning line per damaged row, naming the image."""
    import subprocess
    import sys

    dataset = copy_dataset(tmp_path / "dataset", ["obama"])
    store = tmp_path / "e.db"
    assert main(["extract-embeddings", "-d", str(dataset), "-e", str(store)]) == 0
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE images SET embedding = X'0000' WHERE relpath = 'obama/obama.jpg'")
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "export", "-e", str(store), "-o", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr
    [line] = [x for x in done.stderr.splitlines() if "damaged" in x]
    assert "obama/obama.jpg" in line and "2 bytes, not 512" in line
