"""Hostile inputs, round two: reads that could hang or never end, and a tiny file that decodes
to a huge strip. Each run has a time bound (a subprocess timeout) and must end cleanly."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXAMPLES, ROOT, copy_dataset, run_json
from faultkit import run_cli as run_measured

from pipeline.cli import main
from pipeline.imageio import LINKED_FOLDER

CLI = [sys.executable, "-m", "pipeline"]


def run_cli(argv: list[str], cap_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a child with a 120 s bound (and an address-space cap if given)."""

    def limit() -> None:
        if cap_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (cap_bytes, cap_bytes))

    return subprocess.run(
        CLI + argv, cwd=ROOT, capture_output=True, text=True, timeout=120, preexec_fn=limit
    )


@pytest.mark.slow
def test_a_fifo_and_a_device_link_in_a_person_folder_are_skipped(tmp_path: Path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    os.mkfifo(dataset / "obama" / "photo.jpg")  # opening it for reading would block forever
    (dataset / "biden" / "zero.jpg").symlink_to("/dev/zero")  # would read without end
    done = run_cli(
        ["extract-embeddings", "-d", str(dataset), "-e", str(tmp_path / "e.db"), "--json"]
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert skipped == {"photo.jpg": "not a regular file", "zero.jpg": "not a regular file"}
    assert report["embedded"] == 5  # the real photos were not lost


def test_a_fifo_given_to_recognize_is_one_line(tmp_path: Path, capsys, trained) -> None:
    fifo = tmp_path / "photo.jpg"
    os.mkfifo(fifo)
    assert main(["recognize", str(fifo), "-r", str(trained["model"]), "--no-output"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {fifo}: not a regular file"]


def test_a_pairs_file_that_is_a_device_is_one_line(tmp_path: Path, capsys) -> None:
    pairs = tmp_path / "pairs.txt"
    pairs.symlink_to("/dev/zero")
    assert main(["evaluate-pairs", str(pairs), "--root", str(tmp_path), "--no-plots"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: pairs file {pairs}: not a regular file"]


@pytest.mark.slow
def test_a_1x50000_jpeg_stays_small_under_a_memory_cap(tmp_path: Path, trained) -> None:
    """13 KB on disk; the padded search used to square it (15 GB, 100 s)."""
    strip = tmp_path / "strip.jpg"
    cv2.imwrite(str(strip), np.full((1, 50000, 3), 128, np.uint8))
    assert strip.stat().st_size < 50_000
    done = run_cli(
        ["recognize", str(strip), "--model", str(trained["model"]), "--no-output", "--json"],
        cap_bytes=3 << 30,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"][0]["faces"] == []


@pytest.mark.parametrize("far", ["0", "1", "2", "nan", "x"])
def test_far_must_be_a_share(far: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train-model", "--far", far])
    assert exit_info.value.code == 2
    assert "--far: must be a share between 0 and 1" in capsys.readouterr().err


def test_a_model_path_that_is_a_fifo_or_a_link_is_not_replaced(capsys, trained, tmp_path) -> None:
    fifo, real, link = tmp_path / "fifo.skops", tmp_path / "real.skops", tmp_path / "link.skops"
    os.mkfifo(fifo)
    real.write_bytes(b"someone else's file")
    link.symlink_to(real)
    expected = {
        fifo: "not a regular file (a device, FIFO or folder); refusing to replace it",
        link: "a symbolic link; refusing to replace it (give the real path)",
    }
    for target, why in expected.items():
        assert main(["train-model", "-e", str(trained["store"]), "-r", str(target)]) == 1
        assert capsys.readouterr().err.strip().splitlines() == [f"error: {target}: {why}"]
    assert fifo.is_fifo() and link.is_symlink() and real.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.skops", "link.skops", "real.skops"]


def test_written_files_follow_the_umask(capsys, trained, tmp_path) -> None:
    old = os.umask(0o022)
    try:
        model = tmp_path / "r.skops"
        assert main(["train-model", "-e", str(trained["store"]), "-r", str(model)]) == 0
        out = tmp_path / "annotated"
        assert (
            main(
                [
                    "recognize",
                    str(ROOT / "examples" / "obama1.jpg"),
                    "-r",
                    str(model),
                    "-o",
                    str(out),
                ]
            )
            == 0
        )
    finally:
        os.umask(old)
    assert oct(model.stat().st_mode & 0o777) == "0o644"
    assert oct((out / "obama1.jpg").stat().st_mode & 0o777) == "0o644"


def test_an_operating_system_error_is_one_line(capsys, trained, tmp_path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("a file where the output folder should be")
    code = main(
        [
            "recognize",
            str(ROOT / "examples" / "obama1.jpg"),
            "-r",
            str(trained["model"]),
            "-o",
            str(blocker / "sub"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        code == 1 and len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0]
    )
    assert str(blocker) in err[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["recognize", "x.jpg", "--max-distance", "nan"],
        ["recognize", "x.jpg", "--max-distance", "3"],
        ["recognize", "x.jpg", "--min-probability", "-0.1"],
        ["extract-embeddings", "--confidence", "inf"],
        ["recognize-video", "--detect-every", "0"],
        ["recognize-video", "--max-frames", "-5"],
        ["evaluate", "dataset", "--folds", "1"],
    ],
    ids=[
        "nan-distance",
        "distance-3",
        "negative-probability",
        "inf-confidence",
        "detect-every-0",
        "negative-frames",
        "one-fold",
    ],
)
def test_numbers_out_of_range_are_usage_errors(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "must be" in capsys.readouterr().err


def test_a_recognizer_file_with_a_nan_threshold_is_refused(trained, tmp_path) -> None:
    import skops.io as sio

    from pipeline.classify import IdentityClassifier
    from pipeline.errors import FaceRecError

    model = IdentityClassifier.load(trained["model"])
    state = model._state()
    state["max_distance"] = float("nan")
    bad = tmp_path / "nan.skops"
    sio.dump(state, bad)
    with pytest.raises(FaceRecError, match="max_distance is nan"):
        IdentityClassifier.load(bad)


@pytest.mark.parametrize("part", ["dummy-classifier", "no-gallery", "string-encoder"])
def test_a_recognizer_file_with_foreign_parts_is_refused(trained, tmp_path, part: str) -> None:
    """skops trusts any scikit-learn estimator by itself; a file holding one we never write,
    or missing a part, is refused in one line instead of failing later."""
    import skops.io as sio
    from sklearn.dummy import DummyClassifier

    from pipeline.classify import IdentityClassifier
    from pipeline.errors import FaceRecError

    state = IdentityClassifier.load(trained["model"])._state()
    if part == "dummy-classifier":
        state["svm"] = DummyClassifier().fit(state["gallery"], state["gallery_labels"])
    elif part == "no-gallery":
        del state["gallery"]
    else:
        state["encoder"] = "LabelEncoder"
    bad = tmp_path / "foreign.skops"
    sio.dump(state, bad)
    with pytest.raises(FaceRecError, match="not a recognizer file written by facerec"):
        IdentityClassifier.load(bad)


DAMAGES = {
    "centre-width": lambda st: st.update(centres=st["centres"][:, :100]),
    "nan-centre": lambda st: st["centres"].__setitem__((2, 0), np.nan),
    "label-out-of-range": lambda st: st["gallery_labels"].__setitem__(0, 99),
    "class-count": lambda st: st.update(classes=[*st["classes"], "someone_else"]),
    "gallery-not-unit": lambda st: st.update(gallery=st["gallery"] * 3),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_recognizer_file_with_damaged_arrays_is_refused(
    capsys, trained, tmp_path, damage
) -> None:
    """Arrays edited past the structure check (a width, a NaN, a label out of range, a class
    count): refused on load in one line, before any command or the server uses them (a NaN
    centre loaded silently and that person was never named)."""
    import skops.io as sio

    from pipeline.classify import IdentityClassifier

    state = IdentityClassifier.load(trained["model"])._state()
    for key in ("centres", "gallery", "gallery_labels"):
        state[key] = np.array(state[key])  # writable copies
    DAMAGES[damage](state)
    bad = tmp_path / "damaged.skops"
    sio.dump(state, bad)
    assert (
        main(["recognize", str(ROOT / "examples" / "obama1.jpg"), "-r", str(bad), "--no-output"])
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged" in err[0] and "re-run train-model" in err[0]


def test_names_that_read_as_unknown_or_hold_escapes_are_refused(capsys, tmp_path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama"])
    for name in ("Unknown", "unknown ", "red\x1b[31mname"):
        (dataset / name).mkdir()
        (dataset / name / "a.jpg").write_bytes((ROOT / "dataset/biden/biden.jpg").read_bytes())
    assert (
        main(["extract-embeddings", "-d", str(dataset), "-e", str(tmp_path / "e.db"), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    reasons = {Path(s["path"]).parent.name: s["reason"] for s in report["skipped"]}
    assert set(reasons) == {"Unknown", "unknown ", "red\x1b[31mname"}
    assert "reserved" in reasons["Unknown"] and "reserved" in reasons["unknown "]
    assert "control characters" in reasons["red\x1b[31mname"]
    assert report["people"] == {"obama": 3}


def test_linked_person_folders_are_not_followed(capsys, tmp_path: Path) -> None:
    """A link to a folder outside the dataset enrolled its photos; a link to another person
    enrolled that person twice, under a second name."""
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    outside = copy_dataset(tmp_path / "elsewhere", ["kit_harington"]) / "kit_harington"
    (dataset / "stranger").symlink_to(outside)
    (dataset / "obama_again").symlink_to(dataset / "obama")
    (dataset / "biden" / "nested").symlink_to(outside)
    report = run_json(
        capsys, "extract-embeddings", "-d", str(dataset), "-e", str(tmp_path / "e.db")
    )
    assert report["people"] == {"biden": 2, "obama": 3}
    assert {s["path"]: s["reason"] for s in report["skipped"]} == {
        path: LINKED_FOLDER for path in ("biden/nested/", "obama_again/", "stranger/")
    }


def test_an_image_opencv_fails_on_is_skipped_and_its_batch_kept(
    capsys, tmp_path: Path, monkeypatch, trained
) -> None:
    """OpenCV's own out-of-memory error (cv2.error) on one image used to end the whole run."""
    from pipeline.core import FaceRecognizer

    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    poisoned = cv2.imread(str(dataset / "obama" / "obama2.jpg")).shape
    find_faces = FaceRecognizer.find_faces

    def failing(self, image, thorough=True, max_faces=None):
        if image.shape == poisoned:
            raise cv2.error(
                "OpenCV(5.0.0) alloc.cpp:73: error: (-4:Insufficient memory) "
                "Failed to allocate 15000000000 bytes in function 'OutOfMemoryError'"
            )
        return find_faces(self, image, thorough)

    monkeypatch.setattr(FaceRecognizer, "find_faces", failing)
    report = run_json(
        capsys, "extract-embeddings", "-d", str(dataset), "-e", str(tmp_path / "e.db")
    )
    assert report["people"] == {"biden": 2, "obama": 2}
    [skip] = report["skipped"]
    assert skip["path"] == "obama/obama2.jpg"
    assert skip["reason"].startswith("OpenCV failed on this image (out of memory?)")
    doc = run_json(
        capsys, "recognize", str(dataset / "obama"), "--no-output", "-r", str(trained["model"])
    )
    assert [Path(i["path"]).name for i in doc["images"]] == ["obama.jpg", "obama3.jpg"]
    assert [Path(s["path"]).name for s in doc["skipped"]] == ["obama2.jpg"]


@pytest.mark.slow
def test_big_photos_stay_within_the_decoded_pixel_budget(tmp_path: Path) -> None:
    """12 phone photos of 48 MP (144 MB each as pixels): the 16-image read-ahead held them all,
    a 2.1 GB peak. Now a read-ahead and a batch each hold 128 MB of pixels (or one photo):
    measured 0.91-0.96 GB, of which 0.5 GB is the process with its nets loaded."""
    face = cv2.imread(str(ROOT / "dataset" / "obama" / "obama.jpg"))
    big = cv2.resize(face, (8000, 6000), interpolation=cv2.INTER_LINEAR)
    ok, encoded = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 70])
    assert ok
    person = tmp_path / "dataset" / "obama"
    person.mkdir(parents=True)
    for n in range(12):
        (person / f"phone{n:02d}.jpg").write_bytes(encoded.tobytes())
    run = run_measured(
        ["extract-embeddings", "-d", str(person.parent), "-e", str(tmp_path / "e.db"), "--json"]
    )
    assert run.code == 0 and "Traceback" not in run.err, run.err
    assert json.loads(run.out)["people"] == {"obama": 12}
    assert run.peak_mb < 1280, f"peak {run.peak_mb:.0f} MB"


@pytest.mark.slow
def test_a_zip_bomb_recognizer_is_refused_before_it_inflates(tmp_path: Path) -> None:
    """1 MB on disk, 1 GB unpacked: refused from the archive's directory, in bounded memory."""
    import zipfile

    bomb = tmp_path / "bomb.skops"
    with (
        zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("schema.json", "w", force_zip64=True) as member,
    ):
        for _ in range(1024):
            member.write(b"\0" * (1 << 20))
    assert bomb.stat().st_size < 8 << 20
    run = run_measured(
        ["recognize", str(ROOT / "examples" / "obama1.jpg"), "-r", str(bomb), "--no-output"]
    )
    assert run.code == 1 and "Traceback" not in run.err, run.err
    [line] = run.err_lines
    assert line.startswith(f"error: {bomb}: unpacks to 1074 MB from ")
    assert "a zip bomb?" in line
    assert run.peak_mb < 600, f"peak {run.peak_mb:.0f} MB"


@pytest.mark.parametrize("index", ["99999999999999999999", "10000"])
def test_an_absurd_camera_index_is_one_line(capsys, trained, index: str) -> None:
    code = main(["recognize-video", "-i", index, "-r", str(trained["model"]), "--no-output"])
    assert code == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {index}: camera index out of range (0-9999)"
    ]


@pytest.mark.slow
def test_a_huge_image_in_a_format_without_a_readable_header_is_refused(
    tmp_path: Path, trained
) -> None:
    """A 100 MP TIFF (a format whose size we do not read from the header): OpenCV's own limit
    is set to our 50 MP instead of its 1 gigapixel, so it is refused without being decoded."""
    tiff = tmp_path / "huge.tiff"
    ok, encoded = cv2.imencode(".tiff", np.zeros((10000, 10000, 3), np.uint8))
    assert ok
    tiff.write_bytes(encoded.tobytes())
    run = run_measured(
        ["recognize", str(tiff), "--no-output", "--json", "-r", str(trained["model"])]
    )
    assert run.code == 1 and "Traceback" not in run.err, run.err  # one image alone: an error
    assert run.err_lines == [
        f"error: {tiff}: OpenCV could not decode it (above the 50 MP limit, or out of memory)"
    ]
    assert run.peak_mb < 700, f"peak {run.peak_mb:.0f} MB"


def test_a_jpeg_scan_bomb_is_refused_at_once(capsys, tmp_path, trained) -> None:
    """100,000 empty scans in a 1 MB progressive JPEG of 7000x7000: minutes of decoding,
    deaf to Ctrl-C. Refused before decoding, with the reason; the folder's other photos go on."""
    from faultkit import jpeg_scan_bomb

    (tmp_path / "photos").mkdir()
    bomb = tmp_path / "photos" / "bomb.jpg"
    bomb.write_bytes(jpeg_scan_bomb(7000, 7000, 100_000))
    shutil.copy(EXAMPLES / "obama1.jpg", tmp_path / "photos")
    assert bomb.stat().st_size < 1.4e6  # a 1.3 MB file
    assert main(["recognize", str(bomb), "--model", str(trained["model"]), "--no-output"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "100,010 scans" in err[0] and "decoding bomb" in err[0]
    doc = run_json(
        capsys,
        "recognize",
        str(tmp_path / "photos"),
        "--model",
        str(trained["model"]),
        "--no-output",
    )
    assert [Path(i["path"]).name for i in doc["images"]] == ["obama1.jpg"]
    assert "decoding bomb" in doc["skipped"][0]["reason"]
    # a real progressive photo (about 10 scans) is read as before
    normal = tmp_path / "progressive.jpg"
    normal.write_bytes(jpeg_scan_bomb(2000, 2000, 0))
    assert main(["detect", str(normal), "--no-output"]) == 0


def test_an_escape_sequence_in_a_file_name_never_reaches_the_terminal(
    capsys, tmp_path, trained
) -> None:
    """A file named with a terminal escape: the "skipped" line and the error line show it
    escaped, in text; JSON keeps the name as it is (escaped by JSON itself)."""
    folder = tmp_path / "photos"
    folder.mkdir()
    name = "evil\x1b[2J\x1b[31m.jpg"
    (folder / name).write_bytes(b"not an image")
    shutil.copy(EXAMPLES / "obama1.jpg", folder)
    assert main(["recognize", str(folder), "-r", str(trained["model"]), "--no-output"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "evil\\x1b[2J\\x1b[31m.jpg" in out
    assert main(["recognize", str(folder / name), "-r", str(trained["model"]), "--no-output"]) == 1
    assert "\x1b" not in capsys.readouterr().err


def test_pairs_outside_the_root_are_refused(capsys, tmp_path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("path_a,path_b,same\nobama/obama.jpg,/etc/passwd,no\n")
    assert main(["evaluate-pairs", str(pairs), "--root", str(ROOT / "dataset"), "--no-plots"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "/etc/passwd is outside --root" in err[0]
    pairs.write_text("path_a,path_b,same\nobama/obama.jpg,../examples/obama1.jpg,yes\n")
    assert main(["evaluate-pairs", str(pairs), "--root", str(ROOT / "dataset"), "--no-plots"]) == 1
    assert "outside --root" in capsys.readouterr().err


def test_an_output_folder_inside_the_input_is_not_read_again(capsys, tmp_path, trained) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(EXAMPLES / "obama1.jpg", folder)
    argv = ["recognize", str(folder), "-r", str(trained["model"]), "-o", str(folder / "annotated")]
    for _ in range(2):  # the second run finds the first run's annotated copy in the folder
        doc = run_json(capsys, *argv)
        assert [Path(i["path"]).name for i in doc["images"]] == ["obama1.jpg"]
    assert (folder / "annotated" / "obama1.jpg").is_file()


def test_an_empty_file_is_not_taken_for_a_store(capsys, tmp_path) -> None:
    empty = tmp_path / "notes.txt"
    empty.touch()
    assert main(["extract-embeddings", "-d", str(ROOT / "dataset"), "-e", str(empty)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "an empty file, not a facerec store" in err[0]
    assert empty.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
