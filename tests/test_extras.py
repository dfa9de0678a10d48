"""Every optional extra, missing, is one line naming the pip command, for every command that
needs it. Each case runs the CLI in a child process whose import system cannot see the extra's
modules (as after a plain `pip install .`), so the test environment's own extras do not hide a
traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import DATASET, EXAMPLES, ROOT

from pipeline.extras import EXTRAS

pytestmark = pytest.mark.slow  # a child process per extra

RUN_WITHOUT = """
import sys
for name in {modules!r}:
    sys.modules[name] = None  # import fails, find_spec says not installed
from pipeline.cli import main
raise SystemExit(main({argv!r}))
"""

OBAMA = str(DATASET / "obama" / "obama.jpg")
CASES = {
    "serve": ["serve", "--dataset", str(DATASET)],
    "postgres": [
        "extract-embeddings",
        "--dataset",
        str(DATASET),
        "--store",
        "postgresql://nobody@127.0.0.1:1/none",
    ],
    "ray": ["extract-embeddings", "--dataset", str(DATASET), "--ray", "auto"],
    "dlib": ["verify", OBAMA, str(EXAMPLES / "obama1.jpg"), "--embedder", "dlib"],
    "openvino": [
        "verify",
        OBAMA,
        str(EXAMPLES / "obama1.jpg"),
        "--embedder",
        "facenet",
        "--backend",
        "openvino",
    ],
}


def run_without(extra: str, argv: list[str], tmp_path) -> subprocess.CompletedProcess[str]:
    code = RUN_WITHOUT.format(modules=list(EXTRAS[extra]), argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )


@pytest.mark.parametrize("extra", sorted(CASES))
def test_a_missing_extra_is_one_line_with_the_pip_command(extra: str, tmp_path) -> None:
    done = run_without(extra, CASES[extra], tmp_path)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 1, done.stderr
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in done.stderr
    assert f"pip install '.[{extra}]'" in err[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind


def test_without_the_audio_extra_the_video_is_written_silent_and_says_so(tmp_path, trained) -> None:
    """The audio extra is never required: the video is written (by OpenCV's own encoder),
    without sound, and the report says how to keep it (no ffmpeg on PATH either)."""
    out = tmp_path / "clip.webm"
    argv = [
        "recognize-video",
        "--input",
        str(EXAMPLES / "short_hamilton_clip.mp4"),
        "--max-frames",
        "10",
        "--output",
        str(out),
        "--model",
        str(trained["model"]),
    ]
    done = run_without("audio", argv, tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.is_file() and "Traceback" not in done.stderr
    assert "no sound" in done.stdout and "pip install '.[audio]'" in done.stdout
