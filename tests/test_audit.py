"""facerec audit on real faces: planted mistakes are found with the right names and distances,
clean data gives no "someone else", and quarantine and restore move exactly what the manifest
says."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
from conftest import BBT, DATASET, run_json

from pipeline.cli import main


def clean_copy(dest: Path, source: Path = DATASET) -> Path:
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("*.md", "*.txt"))
    return dest


def audit(capsys, dataset: Path, tmp: Path, *extra: str) -> dict:
    return run_json(
        capsys,
        "audit",
        "--dataset",
        str(dataset),
        "--store",
        str(tmp / "e.db"),
        "--output",
        str(tmp / "report"),
        *extra,
    )


def quarantine_into(dataset: Path, tmp: Path, folder: Path) -> int:
    """The exit code of an audit that quarantines into `folder`."""
    argv = ["--dataset", str(dataset), "--store", str(tmp / "e.db"), "--no-report"]
    return main(["audit", *argv, "--quarantine", str(folder)])


def of(doc: dict, kind: str) -> list[dict]:
    return [f for f in doc["findings"] if f["kind"] == kind]


@pytest.mark.parametrize("source", [DATASET, BBT], ids=["dataset", "bbt"])
def test_the_repository_data_has_no_one_in_the_wrong_folder(capsys, tmp_path, source) -> None:
    doc = audit(capsys, clean_copy(tmp_path / "d", source), tmp_path)
    assert doc["photos"] == {DATASET: 11, BBT: 40}[source]
    assert of(doc, "someone_else") == [] and of(doc, "two_people") == []
    assert of(doc, "duplicate") == [] and of(doc, "wrong_main_face") == []


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """The bundled dataset with three mistakes: an Obama photo moved into Biden's folder, a
    Rose Leslie photo copied into Kit Harington's, and Biden's photo twice (exact, resized)."""
    data = clean_copy(tmp_path / "dataset")
    (data / "obama" / "obama3.jpg").rename(data / "biden" / "obama3.jpg")
    shutil.copy(data / "rose_leslie" / "img1.jpg", data / "kit_harington" / "rose.jpg")
    shutil.copy(data / "biden" / "biden.jpg", data / "biden" / "biden_copy.jpg")
    image = cv2.imread(str(data / "biden" / "biden2.jpg"))
    small = cv2.resize(image, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(data / "biden" / "biden2_small.jpg"), small, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return data


def test_planted_mistakes_are_found_with_who_and_how_near(capsys, tmp_path, planted) -> None:
    doc = audit(capsys, planted, tmp_path)
    [moved] = [f for f in of(doc, "someone_else") if f["photos"] == ["biden/obama3.jpg"]]
    assert moved["other"] == "obama" and moved["flagged"] == ["biden/obama3.jpg"]
    n = moved["numbers"]
    assert n["other_distance"] < 1.04 < n["own_distance"]
    flagged = {p for f in of(doc, "someone_else") for p in f["flagged"]}
    assert flagged == {"biden/obama3.jpg", "kit_harington/rose.jpg"}  # and nothing clean
    [two] = of(doc, "two_people")
    assert set(two["photos"]) == {"kit_harington/rose.jpg", "rose_leslie/img1.jpg"}
    assert two["flagged"] == ["kit_harington/rose.jpg"]  # the copy in the wrong folder
    dups = {f["numbers"]["copy"]: f for f in of(doc, "duplicate")}
    assert dups["exact"]["flagged"] == ["biden/biden_copy.jpg"]
    assert dups["near"]["flagged"] == ["biden/biden2_small.jpg"]  # the older file is kept
    assert doc["counts"]["someone_else"] == 2
    assert of(doc, "alike") == []  # a misfiled photo does not make its two people look alike
    page = Path(doc["report"]).read_text()
    assert page.count("data-kind='someone_else'") == 2 and "typical obama" in page


def test_quarantine_moves_the_flagged_photos_and_restore_puts_them_back(
    capsys, tmp_path, planted
) -> None:
    quarantine = tmp_path / "q"
    doc = audit(capsys, planted, tmp_path, "--no-report", "--quarantine", str(quarantine))
    moved = set(doc["quarantine"]["moved"])
    assert moved == {
        "biden/obama3.jpg",
        "kit_harington/rose.jpg",
        "biden/biden_copy.jpg",
        "biden/biden2_small.jpg",
    }
    manifest = json.loads((quarantine / "manifest.json").read_text())
    assert {m["photo"] for m in manifest["moves"]} == moved
    assert all((quarantine / p).is_file() and not (planted / p).exists() for p in moved)
    again = audit(capsys, planted, tmp_path, "--no-report")  # the store follows the folder
    assert again["counts"]["someone_else"] == 0 and again["counts"]["duplicate"] == 0
    back = run_json(capsys, "audit", "--restore", str(quarantine / "manifest.json"))
    assert set(back["moved"]) == moved and back["missing"] == []
    assert all((planted / p).is_file() for p in moved)
    assert not (quarantine / "manifest.json").exists()  # retired: a second restore is refused
    assert main(["audit", "--restore", str(quarantine / "manifest.json")]) == 1


def test_a_move_that_fails_half_way_is_recorded_and_restored(
    capsys, tmp_path, planted, monkeypatch
) -> None:
    import pipeline.audit.quarantine as q

    real, calls = shutil.move, []

    def failing(source, target):
        calls.append(source)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(source, target)

    monkeypatch.setattr(q.shutil, "move", failing)
    code = quarantine_into(planted, tmp_path, tmp_path / "q")
    err = capsys.readouterr().err
    assert code == 1 and "1 moved so far" in err and "--restore" in err
    assert len(err.strip().splitlines()) == 1
    manifest = json.loads((tmp_path / "q" / "manifest.json").read_text())
    assert len(manifest["moves"]) == 4  # every planned move recorded before the first
    monkeypatch.setattr(q.shutil, "move", real)
    back = run_json(capsys, "audit", "--restore", str(tmp_path / "q" / "manifest.json"))
    assert len(back["moved"]) == 1 and len(back["missing"]) == 3  # the rest never left
    assert len(list(planted.rglob("*.jp*g"))) + len(list(planted.rglob("*.png"))) == 14


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--kinds", "someone_else,nonsense"], "--kinds: no finding 'nonsense'"),
        (["--restore", "README.md"], "not a facerec quarantine manifest"),
        (["--dataset", "no/such/folder"], "no/such/folder"),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, argv, message) -> None:
    base = ["audit", "--store", str(tmp_path / "e.db"), "--no-report"]
    assert main([*base, *argv]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_quarantine_inside_the_dataset_moves_nothing(capsys, tmp_path, planted) -> None:
    before = sorted(planted.rglob("*"))
    code = quarantine_into(planted, tmp_path, planted / "q")
    assert code == 1 and "inside the dataset" in capsys.readouterr().err
    assert sorted(planted.rglob("*")) == before


def test_blurred_and_dark_faces_are_too_poor_to_enrol(capsys, tmp_path) -> None:
    """Sharpness and brightness are measured when a face is embedded and kept in the store;
    a face blurred (sigma 16 px, 6% of its size) or darkened to 7% is flagged, the rest not."""
    data = clean_copy(tmp_path / "dataset")
    obama = cv2.imread(str(data / "obama" / "obama2.jpg"))
    cv2.imwrite(str(data / "obama" / "obama2.jpg"), cv2.GaussianBlur(obama, (0, 0), 16))
    biden = cv2.imread(str(data / "biden" / "biden2.jpg"))
    cv2.imwrite(str(data / "biden" / "biden2.jpg"), (biden * 0.07).astype("uint8"))
    doc = audit(capsys, data, tmp_path, "--no-report")
    poor = {f["photos"][0]: f for f in of(doc, "poor_face")}
    assert set(poor) == {"obama/obama2.jpg", "biden/biden2.jpg"}
    assert "blurred" in poor["obama/obama2.jpg"]["detail"]
    assert poor["obama/obama2.jpg"]["numbers"]["sharpness"] < 0.035
    assert "dark" in poor["biden/biden2.jpg"]["detail"]
    assert poor["biden/biden2.jpg"]["numbers"]["brightness"] < 12.7
