"""End to end through the CLI (in-process), on the repository's real images."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import BBT, DATASET, EXAMPLE_NAMES, EXAMPLES, copy_dataset, names_in, run_json

from pipeline.cli import main


def test_recognize_names_the_enrolled_people_and_rejects_strangers(capsys, trained) -> None:
    doc = run_json(
        capsys,
        "recognize",
        str(EXAMPLES),
        "--model",
        str(trained["model"]),
        "--output",
        str(trained["work"] / "annotated"),
    )
    assert names_in(doc) == EXAMPLE_NAMES
    for image in doc["images"]:
        assert Path(image["annotated"]).is_file()
        for face in image["faces"]:
            assert len(face["box"]) == 4 and 0.7 <= face["score"] <= 1.0
            if face["name"] != "unknown":
                assert face["distance"] <= 1.04 and face["candidate"] == face["name"]
                assert 0.0 < face["probability"] <= 1.0  # the SVM's, for a face it named
            else:  # rejected by distance: the SVM's pick among the enrolled means nothing here
                assert face["distance"] > 1.04 and face["probability"] is None


def test_an_unknown_face_carries_its_nearest_candidate_and_distance(capsys, trained) -> None:
    doc = run_json(
        capsys,
        "recognize",
        str(EXAMPLES / "bbt1.jpg"),
        "--model",
        str(trained["model"]),
        "--no-output",
    )
    [image] = doc["images"]
    assert len(image["faces"]) == 4
    for face in image["faces"]:
        # the bbt cast is 1.05-1.4 from the nearest enrolled person: shown, and why it is unknown
        assert face["name"] == "unknown" and 1.04 < face["distance"] < 1.5
        assert face["candidate"] in {
            "alex_lacamoire",
            "biden",
            "kit_harington",
            "lin_manuel_miranda",
            "obama",
            "rose_leslie",
        }
    assert (
        main(
            [
                "recognize",
                str(EXAMPLES / "bbt1.jpg"),
                "--model",
                str(trained["model"]),
                "--no-output",
            ]
        )
        == 0
    )
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith(f"{EXAMPLES / 'bbt1.jpg'}: unknown (nearest ") and "> 1.04" in line


def test_recognize_takes_files_and_folders_mixed(capsys, trained, tmp_path) -> None:
    folder = tmp_path / "more"
    folder.mkdir()
    shutil.copy(EXAMPLES / "obama1.jpg", folder / "obama1.jpg")  # same name as a file below
    (folder / "notes.jpg").write_text("not an image")  # skipped and reported, not fatal
    out = tmp_path / "annotated"
    doc = run_json(
        capsys,
        "recognize",
        str(EXAMPLES / "obama1.jpg"),
        str(EXAMPLES / "kit_with_rose.jpg"),
        str(folder),
        "--model",
        str(trained["model"]),
        "--output",
        str(out),
    )
    assert [sorted(f["name"] for f in i["faces"]) for i in doc["images"]] == [
        ["obama"],
        ["kit_harington", "rose_leslie"],
        ["obama"],
    ]
    assert [s["path"] for s in doc["skipped"]] == [str(folder / "notes.jpg")]
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.jpg"))
    assert written == ["kit_with_rose.jpg", "more/obama1.jpg", "obama1.jpg"]


@pytest.mark.parametrize("person", ["sheldon", "penny", "raj"])
def test_a_stranger_crop_comes_out_unknown(capsys, trained, person: str) -> None:
    doc = run_json(
        capsys,
        "recognize",
        str(BBT / person / f"{person}1.png"),
        "--model",
        str(trained["model"]),
        "--no-output",
    )
    [image] = doc["images"]
    assert [f["name"] for f in image["faces"]] == ["unknown"]


def test_extract_is_incremental(capsys, tmp_path: Path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama", "biden"])
    store = str(tmp_path / "e.db")
    first = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", store)
    assert (first["images"], first["embedded"], first["unchanged"]) == (5, 5, 0)
    assert first["people"] == {"biden": 2, "obama": 3}
    again = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", store)
    assert (again["embedded"], again["unchanged"], again["removed"]) == (0, 5, 0)
    os.utime(dataset / "obama" / "obama.jpg", (1_000_000, 1_000_000))  # touched, same content
    touched = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", store)
    assert (touched["embedded"], touched["unchanged"]) == (0, 5)
    shutil.copy(DATASET / "kit_harington" / "john1.jpeg", dataset / "biden" / "new face.jpeg")
    (dataset / "obama" / "obama2.jpg").unlink()
    third = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", store)
    assert (third["images"], third["embedded"], third["unchanged"], third["removed"]) == (
        5,
        1,
        4,
        1,
    )


def test_extract_reports_skips_and_keeps_going(capsys, tmp_path: Path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["rose_leslie"])
    (dataset / "rose_leslie" / "broken.jpg").write_bytes(b"this is text, not a jpeg")
    (dataset / "unknown").mkdir()
    shutil.copy(DATASET / "biden" / "biden.jpg", dataset / "unknown" / "x.jpg")
    doc = run_json(
        capsys, "extract-embeddings", "--dataset", str(dataset), "--store", str(tmp_path / "e.db")
    )
    assert doc["embedded"] == 2
    reasons = {s["path"]: s["reason"] for s in doc["skipped"]}
    assert "not a readable image" in reasons["rose_leslie/broken.jpg"]
    assert "reserved" in reasons["unknown/x.jpg"]


def test_one_person_trains_a_distance_matcher(capsys, tmp_path: Path) -> None:
    dataset = copy_dataset(tmp_path / "dataset", ["obama"])
    store, model = str(tmp_path / "e.db"), str(tmp_path / "m.skops")
    run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", store)
    report = run_json(capsys, "train-model", "--store", store, "--model", model)
    assert report["mode"] == "distance" and "one person" in report["notes"][0]
    doc = run_json(
        capsys, "recognize", str(EXAMPLES / "obama_and_biden.jpg"), "--model", model, "--no-output"
    )
    assert names_in(doc)["obama_and_biden.jpg"] == ["obama", "unknown", "unknown"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["extract-embeddings", "--dataset", "no/such/dir"], "dataset folder not found"),
        (["recognize", "no/such/image.jpg", "--model", "{model}"], "no such file"),
        (
            ["recognize", str(EXAMPLES / "obama1.jpg"), "--model", "no/such/model.skops"],
            "run train-model",
        ),
        (["train-model", "--store", "no/such/store.db"], "run extract-embeddings"),
        (["recognize-video", "--input", "no/such/clip.mp4", "--model", "{model}"], "no such video"),
    ],
    ids=["missing-dataset", "missing-image", "missing-model", "missing-store", "missing-video"],
)
def test_user_errors_are_one_line_and_exit_1(
    capsys, trained, argv: list[str], message: str
) -> None:
    argv = [a.replace("{model}", str(trained["model"])) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]


def test_unreadable_single_image_is_an_error(capsys, trained, tmp_path: Path) -> None:
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    assert main(["recognize", str(bad), "--model", str(trained["model"])]) == 1
    assert "empty file" in capsys.readouterr().err


def test_demo_runs_and_names_the_people(capsys, tmp_path: Path) -> None:
    out = tmp_path / "output"
    doc = run_json(
        capsys,
        "demo",
        "--dataset",
        str(DATASET),
        "--examples",
        str(EXAMPLES),
        "--store",
        str(out / "e.db"),
        "--model",
        str(out / "m.skops"),
        "--output",
        str(out / "demo"),
    )
    names = names_in(doc["recognize"])
    assert names["obama_and_biden.jpg"] == ["biden", "obama", "unknown"]
    assert names["kit_with_rose.jpg"] == ["kit_harington", "rose_leslie"]
    assert doc["train"]["mode"] == "svm" and (out / "m.skops").is_file()
    assert (out / "demo" / "obama_and_biden.jpg").is_file()


def test_train_model_classifier_choice_reaches_the_model(capsys, trained, tmp_path: Path) -> None:
    model = tmp_path / "nearest.skops"
    doc = run_json(
        capsys,
        "train-model",
        "--store",
        str(trained["store"]),
        "--model",
        str(model),
        "--classifier",
        "nearest",
    )
    assert doc["mode"] == "nearest"
    doc = run_json(capsys, "recognize", str(EXAMPLES), "--model", str(model), "--no-output")
    assert names_in(doc) == EXAMPLE_NAMES


def test_a_closed_pipe_is_not_a_traceback(tmp_path: Path) -> None:
    """`facerec ... --json | head -1`: the reader leaves early; no traceback, exit 141."""
    import subprocess
    import sys

    code = (
        "import sys; from pipeline.cli import main; "
        f"sys.exit(main(['verify', {str(DATASET / 'obama' / 'obama.jpg')!r}, "
        f"{str(EXAMPLES / 'obama1.jpg')!r}, '--json']))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.close()  # like head, gone before the answer is printed
    _, err = proc.communicate()
    assert proc.returncode == 141 and b"Traceback" not in err


def test_a_recognizer_keeps_its_detector(capsys, trained) -> None:
    """recognize uses the detector the recognizer was trained with; asking for another one is
    refused in one line rather than matching crops of two detectors."""
    assert (
        main(
            [
                "recognize",
                str(EXAMPLES / "obama1.jpg"),
                "-r",
                str(trained["model"]),
                "--detector",
                "ssd",
                "--no-output",
            ]
        )
        == 1
    )
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "trained on faces found by yunet-2026may-640, not res10-ssd-300-uint8" in line


def test_version_and_json_before_the_command(capsys) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("facerec ")
    assert main(["--json", "detect", str(EXAMPLES / "obama1.jpg"), "--no-output"]) == 0
    assert len(json.loads(capsys.readouterr().out)["images"][0]["faces"]) == 1


@pytest.mark.slow
def test_recognize_jsonl_streams_one_line_per_face(trained, tmp_path: Path) -> None:
    """The first line comes out before the last image is read: the last file is deleted once
    the first line has arrived, and the run reports it missing instead of naming it."""
    import subprocess
    import sys

    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(24):
        shutil.copy(EXAMPLES / "obama1.jpg", folder / f"a{n:02d}.jpg")
    last = folder / "z_last.jpg"
    shutil.copy(EXAMPLES / "obama1.jpg", last)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipeline",
            "recognize",
            str(folder),
            "-r",
            str(trained["model"]),
            "--no-output",
            "--format",
            "jsonl",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    last.unlink()
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert first["path"].endswith("a00.jpg") and first["name"] == "obama"
    rows = [first] + [json.loads(line) for line in rest.splitlines()]
    assert len(rows) == 25 and all(r["name"] == "obama" for r in rows[:24])
    assert rows[-1]["path"] == str(last) and rows[-1]["error"] == "no such file"


def test_recognize_csv_has_a_header_and_a_row_per_face(capsys, trained) -> None:
    assert (
        main(
            [
                "recognize",
                str(EXAMPLES / "obama_and_biden.jpg"),
                "-r",
                str(trained["model"]),
                "--no-output",
                "--format",
                "csv",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("path,face,name,distance")
    assert sorted(line.split(",")[2] for line in lines[1:]) == ["biden", "obama", "unknown"]


def test_every_option_is_documented_and_train_model_takes_no_detector_options() -> None:
    from pipeline.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{name} {action.option_strings[0]} has no help"
    train = commands.choices["train-model"].format_help()
    assert "--confidence" not in train and "--detector" not in train and "(default: " in train


@pytest.mark.parametrize("command", ["recognize", "detect"])
def test_nothing_to_do_is_an_error_a_script_can_see(capsys, trained, tmp_path, command) -> None:
    """An empty folder, or one unreadable image given alone: exit 1 with one line, for both
    commands (detect used to exit 0 on both)."""
    (tmp_path / "empty").mkdir()
    model = ["--model", str(trained["model"])] if command == "recognize" else []
    assert main([command, str(tmp_path / "empty"), "--no-output", *model]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no images there" in err[0]
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not a picture")
    assert main([command, str(bad), "--no-output", *model]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.jpg: not a readable image" in err[0]
    assert main([command, str(bad), "--no-output", "--format", "jsonl", *model]) == 1


def test_help_says_what_the_commands_do(capsys) -> None:
    """Bare `facerec` prints the help (exit 2, nothing was done); help texts match the code."""
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: facerec") and "recognize-video" in out and "migrate" in out
    for argv, present, absent in (
        (["recognize-video", "--help"], "output/<name>_recognized.webm", "_recognized.mp4"),
        (["serve", "--help"], "do not log each request", "(default: True)"),
        (["recognize", "--help"], "distance to the person picked", "nearest face of the name"),
    ):
        with pytest.raises(SystemExit):
            main(argv)
        text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
        assert present in text and absent not in text, argv
    with pytest.raises(SystemExit) as stop:  # was accepted: a detection every 31 years
        main(["recognize-video", "--detect-every", "1000000000"])
    assert stop.value.code == 2 and "1 to 1000 frames" in capsys.readouterr().err


def test_verify_says_which_face_of_a_group_photo_it_compared(capsys) -> None:
    group, obama = str(EXAMPLES / "obama_and_biden.jpg"), str(EXAMPLES / "obama1.jpg")
    doc = run_json(capsys, "verify", group, obama)
    # the main face (largest, nearest the centre) of the group photo is Biden's
    assert doc["same"] is False and doc["faces_a"] == 3 and doc["faces_b"] == 1
    assert doc["box_a"] == [762, 397, 931, 636]
    assert main(["verify", group, obama]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("different people") and len(out) == 2
    assert "compared its main face [762, 397, 931, 636]" in out[1] and "one of 3" in out[1]


def test_records_have_one_shape_per_result_type(capsys, trained, tmp_path) -> None:
    """--format jsonl|csv: a box is always x1..y2, detect's records carry the landmarks,
    recognize's the detector score (its CSV had an always-empty score column)."""
    import csv
    import io

    from pipeline.types import DETECTION_ROW, FACE_ROW, NEIGHBOUR_ROW

    group = str(EXAMPLES / "obama_and_biden.jpg")
    assert (
        main(["recognize", group, "-r", str(trained["model"]), "--no-output", "--format", "csv"])
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == list(FACE_ROW) and len(rows) == 3
    assert all(float(r["score"]) > 0.7 and int(r["x2"]) > int(r["x1"]) for r in rows)
    assert main(["detect", group, "--no-output", "--format", "jsonl"]) == 0
    faces = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(faces) == 3 and set(faces[0]) == set(DETECTION_ROW) - {"error"}
    assert faces[0]["left_eye_x"] < faces[0]["right_eye_x"]  # image-left first
    assert (
        main(
            [
                "find",
                str(EXAMPLES / "obama1.jpg"),
                "-e",
                str(trained["store"]),
                "-k",
                "2",
                "--format",
                "jsonl",
            ]
        )
        == 0
    )
    near = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [n["rank"] for n in near] == [1, 2] and set(near[0]) == set(NEIGHBOUR_ROW)


def test_the_demo_runs_outside_a_clone_on_the_photos_installed_with_it(
    capsys, tmp_path, monkeypatch
) -> None:
    """An installed wheel carries the demo's photos under pipeline/_demo; run from any folder,
    the demo uses them (it failed with a site-packages path)."""
    import pipeline.cli.commands.demo as cli

    installed = tmp_path / "site" / "_demo"
    shutil.copytree(DATASET, installed / "dataset")
    shutil.copytree(EXAMPLES, installed / "examples")
    monkeypatch.setattr(cli, "_REPO_DIR", tmp_path / "no-clone")
    monkeypatch.setattr(cli, "_DEMO_DIR", installed)
    monkeypatch.chdir(tmp_path)
    doc = run_json(capsys, "demo")
    assert doc["extract"]["embedded"] == 11
    assert {Path(i["path"]).name for i in doc["recognize"]["images"]} == set(EXAMPLE_NAMES)
    monkeypatch.setattr(cli, "_DEMO_DIR", tmp_path / "nothing")
    (tmp_path / "output").rename(tmp_path / "first")
    assert main(["demo"]) == 1
    assert "dataset: no such folder here, in a clone or installed" in capsys.readouterr().err
