"""Faults of the operating system, made for real: a full disk, read-only and unreadable folders,
SIGTERM mid-run. Each run ends within faultkit.TIME_BOUND, with its documented exit code, one
line and no traceback, and leaves earlier data intact."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
from pathlib import Path

import cv2
import pytest
from conftest import CLIP, DATASET, EXAMPLES, copy_dataset
from faultkit import (
    TIME_BOUND,
    fill,
    no_traceback,
    permissions_bind,
    run_cli,
    small_disk,
    start_cli,
    wait_for,
)

needs_permissions = pytest.mark.skipif(
    not permissions_bind(), reason="root here cannot give up overriding file permissions"
)

pytestmark = pytest.mark.slow  # runs the CLI in child processes against real faults


def hidden_temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def test_a_full_disk_keeps_the_video_honest(tmp_path: Path, trained) -> None:
    """cv2.VideoWriter reports no write error: the video is read back before it is named."""
    with small_disk(tmp_path / "disk", 300) as (disk, cap):
        out = disk / "clip.mp4"
        run = run_cli(
            ["recognize-video", "-i", str(CLIP), "-o", str(out), "-r", str(trained["model"])],
            file_size_cap=cap,
        )
        assert run.code == 1 and no_traceback(run), run.err
        assert run.err_lines == [
            f"error: {out}: the video could not be written completely (0 of 275 frames readable; "
            "is the disk full?); nothing was kept"
        ]
        assert not out.exists() and hidden_temporaries(disk) == []


def test_a_full_disk_keeps_the_previous_recognizer_and_store(tmp_path: Path, trained) -> None:
    with small_disk(tmp_path / "disk", 400) as (disk, cap):
        model = disk / "recognizer.skops"
        model.write_bytes(trained["model"].read_bytes())
        store = disk / "embeddings.db"
        store.write_bytes(trained["store"].read_bytes())
        before = model.read_bytes()
        fill(disk, cap)
        train = run_cli(
            ["train-model", "-e", str(trained["store"]), "-r", str(model)], file_size_cap=cap
        )
        assert train.code == 1 and no_traceback(train), train.err
        assert len(train.err_lines) == 1 and train.err_lines[0].startswith(f"error: {model}: ")
        assert model.read_bytes() == before and hidden_temporaries(disk) == []

        dataset = copy_dataset(tmp_path / "dataset", ["obama"])
        (dataset / "obama" / "more.jpg").write_bytes((EXAMPLES / "obama1.jpg").read_bytes())
        extract = run_cli(
            ["extract-embeddings", "-d", str(dataset), "-e", str(store)], file_size_cap=cap
        )
        assert extract.code == 1 and no_traceback(extract), extract.err
        assert len(extract.err_lines) == 1 and extract.err_lines[0].startswith(f"error: {store}: ")
        (disk / "filler").unlink(missing_ok=True)
        with contextlib.closing(sqlite3.connect(store)) as conn:  # closed before the unmount
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            ok_rows = conn.execute("SELECT COUNT(*) FROM images WHERE status = 'ok'").fetchone()
        assert ok_rows[0] == 11


@needs_permissions
@pytest.mark.parametrize(
    "command", ["recognize", "train-model", "extract-embeddings", "evaluate-pairs"]
)
def test_a_read_only_output_folder_is_one_line(tmp_path: Path, trained, command: str) -> None:
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o555)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "path_a,path_b,same\nobama/obama.jpg,obama/obama2.jpg,1\n"
        "obama/obama.jpg,biden/biden.jpg,0\n"
    )
    argv = {
        "recognize": [
            "recognize",
            str(EXAMPLES / "obama1.jpg"),
            "-r",
            str(trained["model"]),
            "-o",
            str(locked),
        ],
        "train-model": ["train-model", "-e", str(trained["store"]), "-r", str(locked / "r.skops")],
        "extract-embeddings": [
            "extract-embeddings",
            "-d",
            str(DATASET),
            "-e",
            str(locked / "e.db"),
        ],
        "evaluate-pairs": [
            "evaluate-pairs",
            str(pairs),
            "--root",
            str(DATASET),
            "-o",
            str(locked / "plots"),
        ],
    }[command]
    run = run_cli(argv, obey_permissions=True)
    assert run.code == 1 and no_traceback(run), run.err
    assert len(run.err_lines) == 1 and run.err_lines[0].startswith("error: ")
    assert str(locked) in run.err_lines[0]
    assert list(locked.iterdir()) == []


@needs_permissions
def test_an_unreadable_person_folder_keeps_its_stored_faces(tmp_path: Path) -> None:
    """Before, the folder listed as empty and the person's rows were deleted without a word."""
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    store = tmp_path / "e.db"
    first = run_cli(["extract-embeddings", "-d", str(dataset), "-e", str(store), "--json"])
    assert json.loads(first.out)["people"] == {"biden": 2, "obama": 3}
    (dataset / "biden").chmod(0)
    try:
        again = run_cli(
            ["extract-embeddings", "-d", str(dataset), "-e", str(store), "--json"],
            obey_permissions=True,
        )
    finally:
        (dataset / "biden").chmod(0o755)
    assert again.code == 0 and no_traceback(again), again.err
    report = json.loads(again.out)
    assert report["people"] == {"biden": 2, "obama": 3} and report["removed"] == 0
    assert report["skipped"] == [
        {"path": "biden/", "reason": "cannot list (Permission denied); its stored faces are kept"}
    ]


def test_sigterm_mid_video_finishes_the_video_like_ctrl_c(tmp_path: Path, trained) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "clip.avi"
    proc = start_cli(
        [
            "recognize-video",
            "-i",
            str(CLIP),
            "-o",
            str(out),
            "-r",
            str(trained["model"]),
            "--detect-every",
            "1",
            "--json",
        ]
    )

    def some_frames_written() -> bool:
        return any(p.stat().st_size > 100_000 for p in out_dir.iterdir())

    wait_for(some_frames_written, proc, TIME_BOUND)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=TIME_BOUND)
    # the video is finished and reported, and the exit code still says it was stopped
    assert proc.returncode == 143 and "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith("terminated: the video so far is written")
    report = json.loads(stdout)
    assert report["ended_by"] == "terminated" and 0 < report["frames"] < 275
    assert hidden_temporaries(out_dir) == []
    video = cv2.VideoCapture(str(out))
    # every processed frame is in it (OpenCV estimates an AVI's count from its length once
    # FFmpeg has added the sound, so it may read one more)
    assert 0 <= int(video.get(cv2.CAP_PROP_FRAME_COUNT)) - report["frames"] <= 1
    video.release()


def test_sigterm_mid_extraction_exits_143_with_the_store_whole(tmp_path: Path) -> None:
    from test_faults import big_dataset, rows_stored

    dataset = big_dataset(tmp_path / "dataset")
    store = tmp_path / "e.db"
    proc = start_cli(["extract-embeddings", "-d", str(dataset), "-e", str(store)])
    wait_for(lambda: rows_stored(store) > 0, proc, TIME_BOUND)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=TIME_BOUND)
    last = stderr.strip().splitlines()[-1]
    assert proc.returncode == 143 and last.startswith("terminated: every batch embedded"), stderr
    assert "run it again to resume" in last
    assert "Traceback" not in stderr
    conn = sqlite3.connect(store)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not os.path.exists(f"{store}-journal")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_stdout_on_a_full_disk_is_one_line(trained) -> None:
    import subprocess
    import sys

    from faultkit import ROOT

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pipeline",
                "recognize",
                str(EXAMPLES / "obama1.jpg"),
                "-r",
                str(trained["model"]),
                "--no-output",
                "--json",
            ],
            cwd=ROOT,
            stdout=full,
            text=True,
            stderr=subprocess.PIPE,
            timeout=TIME_BOUND,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "error: standard output: cannot write (No space left on device)"
    ]


@pytest.mark.parametrize("delay", [0.15, 0.2, 0.25, 0.4, 0.8])
def test_ctrl_c_while_starting_is_one_line(tmp_path: Path, delay: float) -> None:
    """Ctrl-C in the first second (while NumPy, OpenCV and scikit-learn load, before the
    command runs) is one line and exit 130, not a 17-28 line traceback."""
    import time

    proc = start_cli(["extract-embeddings", "-d", str(DATASET), "-e", str(tmp_path / "e.db")])
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=TIME_BOUND)
    lines = stderr.strip().splitlines()
    assert proc.returncode == 130 and "Traceback" not in stderr, stderr
    assert len(lines) == 1 and lines[0].startswith("interrupted"), stderr
