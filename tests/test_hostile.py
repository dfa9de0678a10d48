"""Hostile inputs, round two: reads that could hang or never end, and a tiny file that decodes
to a huge strip. Each run has a time bound (a subprocess timeout) and must end cleanly."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, copy_dataset

from pipeline.cli import main

CLI = [sys.executable, "-m", "pipeline"]


def run_cli(argv: list[str], cap_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child with a 120 s bound (and an address-space cap if given)."""

    def limit() -> None:
        if cap_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    return subprocess.run(CLI + argv, cwd=ROOT, capture_output=True, text=True, timeout=120,
                          preexec_fn=limit)  # fmt: skip


def test_a_fifo_and_a_device_link_in_a_person_folder_are_skipped(tmp_path: Path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    os.mkfifo(dataset / "obama" / "photo.jpg")  # opening it for reading would block forever
    (dataset / "biden" / "zero.jpg").symlink_to("/dev/zero")  # would read without end
    done = run_cli(["extract-embeddings", "-d", str(dataset), "-e", str(tmp_path / "e.db"),
                    "--json"])  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert skipped == {"photo.jpg": "not a regular file", "zero.jpg": "not a regular file"}
    assert report["embedded"] == 5  # the real photos were not lost


def test_a_pairs_file_that_is_a_device_is_one_line(tmp_path: Path, capsys) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.symlink_to("/dev/zero")
    assert main(["evaluate-pairs", str(pairs), "--root", str(tmp_path), "--no-plots"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: pairs file {pairs}: not a regular file"]


def test_a_1x50000_jpeg_stays_small_under_a_memory_cap(tmp_path: Path, trained) -> None:
    """13 KB on disk; the padded search used to square it (15 GB, 100 s)."""
    strip = tmp_path / "strip.jpg"
    cv2.imwrite(str(strip), np.full((1, 50000, 3), 128, np.uint8))
    assert strip.stat().st_size < 50_000
    done = run_cli(["recognize", str(strip), "--model", str(trained["model"]), "--no-output",
                    "--json"], cap_bytes=3 << 30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"][0]["faces"] == []


@pytest.mark.parametrize("far", ["0", "1", "2", "nan", "x"])
def test_far_must_be_a_share(far: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train-model", "--far", far])
    assert exit_info.value.code == 2
    assert "--far: must be a share between 0 and 1" in capsys.readouterr().err
