"""facerec cluster on real faces: groups are people, ids stay when photos are added, a named
group is recognized, groups can be merged and faces taken out, and the scores are right."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.library.cluster import SINGLETON, cluster_vectors, score_clusters
from tests.conftest import BBT, EXAMPLES, run_json

CAST = ["amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon", "stuart"]


def library(dest: Path, photos: range = range(1, 4)) -> Path:
    """Photos 1-3 of each of the 8 bbt people, all in one folder (no names)."""
    dest.mkdir(parents=True, exist_ok=True)
    for person in CAST:
        for i in photos:
            shutil.copy2(BBT / person / f"{person}{i}.png", dest / f"{person}{i}.png")
    return dest


def cluster(capsys, photos: Path, *extra: str) -> dict:
    work = photos.parent
    return run_json(
        capsys,
        "cluster",
        str(photos),
        "--store",
        str(work / "library.db"),
        "-o",
        str(work / "report"),
        *extra,
    )


def who(doc: dict) -> dict[int, set[str]]:
    """{group id: the people (from the file names) in it}."""
    return {
        g["id"]: {re.match(r"[a-z]+", Path(m["path"]).stem).group() for m in g["members"]}
        for g in doc["groups"]
    }


def test_scores_are_bcubed_and_pairwise():
    # 4 faces of A, 2 of B; grouped {A,A,A}, {A,B}, {B alone}
    labels = np.array([0, 0, 0, 1, 1, SINGLETON])
    truth = ["A", "A", "A", "A", "B", "B"]
    s = score_clusters(labels, truth)
    # precision per face: 1,1,1, 1/2, 1/2, 1 -> 5/6; recall: 3/4 x3, 1/4, 1/2, 1/2 -> 3.5/6
    assert s.bcubed_precision == pytest.approx(5 / 6)
    assert s.bcubed_recall == pytest.approx(3.5 / 6)
    # pairs put together: 3 (AAA) + 1 (AB) = 4, right 3; same-person pairs: 6 + 1 = 7
    assert s.pairwise_precision == pytest.approx(3 / 4)
    assert s.pairwise_recall == pytest.approx(3 / 7)
    assert (s.groups, s.singletons) == (2, 1)


def test_every_method_keeps_people_apart_on_real_faces(recognizer):
    vectors, truth = [], []
    for person in CAST:
        for photo in sorted((BBT / person).glob("*.png")):
            _, v = recognizer.embed_faces(cv2.imread(str(photo)))
            vectors.append(v[0])
            truth.append(person)
    x = np.stack(vectors)
    cut = recognizer.embedder.spec.cluster_distance
    for method in ("whispers+centres", "whispers", "average", "dbscan"):
        score = score_clusters(cluster_vectors(x, cut, method), truth)
        assert score.bcubed_precision == 1.0, method
    best = score_clusters(cluster_vectors(x, cut), truth)
    assert best.bcubed_f1 > 0.95 and best.groups == 8


def test_groups_are_people_and_the_report_shows_them(tmp_path, capsys):
    doc = cluster(capsys, library(tmp_path / "photos"))
    assert sorted(map(sorted, who(doc).values())) == [[p] for p in CAST]
    assert len(doc["groups"]) == 8 and doc["changes"]["created"] == list(range(1, 9))
    grouped = sum(g["faces"] for g in doc["groups"])
    assert grouped + len(doc["singletons"]) == 24 and grouped >= 22
    assert all(0 < g["spread"] < 0.6 for g in doc["groups"])
    report = tmp_path / "report"
    html = (report / "index.html").read_text()
    assert html.count("class=group") == 8
    for g in doc["groups"]:
        sheet = cv2.imread(str(report / f"group-{g['id']:04d}.png"))
        assert sheet.shape[1] == 112 * g["faces"]  # one row, a tile per face
        assert f"href='../photos/{Path(g['members'][0]['path']).name}'" in html
        # an ordinary photo folder: file times, not sightings
        assert g["first_file_time"] and "first_seen" not in g
    assert "file times" in html and "seen " not in html
    # the real command to name a group, and every face left alone with its id and photo
    assert f"facerec cluster {tmp_path / 'photos'} --name ID=name" in html
    for face in doc["singletons"]:
        assert f">{face['id']}</a>" in html


def _mirror_and_shrink(src: Path, dest: Path) -> list[Path]:
    """10 new photos of penny: her photos 4 and 5, and 8 copies of her photos mirrored or
    shrunk (real faces, new files)."""
    out = []
    for i in (4, 5):
        out.append(dest / f"penny{i}.png")
        shutil.copy2(src / f"penny{i}.png", out[-1])
    for i in range(1, 6):
        out.append(dest / f"penny_mirror{i}.png")
        cv2.imwrite(str(out[-1]), cv2.flip(cv2.imread(str(src / f"penny{i}.png")), 1))
    for i in range(1, 4):
        image = cv2.imread(str(src / f"penny{i}.png"))
        out.append(dest / f"penny_mirror_small{i}.png")
        cv2.imwrite(
            str(out[-1]), cv2.resize(image, None, fx=0.8, fy=0.8, interpolation=cv2.INTER_AREA)
        )
    return out


def test_new_photos_join_their_person_and_no_other_id_changes(tmp_path, capsys):
    photos = library(tmp_path / "photos")
    first = cluster(capsys, photos)
    before = {g["id"]: {m["id"] for m in g["members"]} for g in first["groups"]}
    penny = next(g for g, people in who(first).items() if people == {"penny"})

    added = _mirror_and_shrink(BBT / "penny", photos)
    assert len(added) == 10
    second = cluster(capsys, photos)
    after = {g["id"]: {m["id"] for m in g["members"]} for g in second["groups"]}
    assert second["changes"]["created"] == [] and second["changes"]["grew"] == {str(penny): 10}
    assert after[penny] == before[penny] | {f"{p.name}#0" for p in added}
    assert {g: m for g, m in after.items() if g != penny} == {
        g: m for g, m in before.items() if g != penny
    }


def test_a_named_group_is_recognized_after_train_model(tmp_path, capsys):
    photos = library(tmp_path / "photos")
    first = cluster(capsys, photos)
    raj = next(g for g, people in who(first).items() if people == {"raj"})
    dataset, gallery = tmp_path / "dataset", tmp_path / "gallery.db"
    shutil.copytree(EXAMPLES.parent / "dataset" / "obama", dataset / "obama")
    named = cluster(
        capsys, photos, "--name", f"{raj}=raj", "--dataset", str(dataset), "--gallery", str(gallery)
    )
    assert named["named"] == {str(raj): {"name": "raj", "enrolled": 3}}
    assert next(g for g in named["groups"] if g["id"] == raj)["name"] == "raj"
    assert len(list((dataset / "raj").glob("*.png"))) == 3
    # the gallery also gets what extract-embeddings finds in the folder, then trains
    ex = run_json(capsys, "extract-embeddings", "--dataset", str(dataset), "--store", str(gallery))
    assert (ex["embedded"], ex["unchanged"], ex["removed"]) == (3, 3, 0)  # the crops as stored
    model = tmp_path / "recognizer.skops"
    run_json(capsys, "train-model", "--store", str(gallery), "--model", str(model))
    doc = run_json(
        capsys, "recognize", str(BBT / "raj" / "raj5.png"), "--model", str(model), "--no-output"
    )
    assert [f["name"] for f in doc["images"][0]["faces"]] == ["raj"]


def test_groups_can_be_merged_and_faces_taken_out(tmp_path, capsys):
    photos = library(tmp_path / "photos")
    first = cluster(capsys, photos)
    groups = who(first)
    amy = next(g for g, p in groups.items() if p == {"amy"})
    penny = next(g for g, p in groups.items() if p == {"penny"})
    doc = cluster(capsys, photos, "--merge", f"{amy},{penny}", "--remove", "amy1.png#0")
    merged = next(g for g in doc["groups"] if g["id"] == amy)
    assert who(doc)[amy] == {"amy", "penny"} and penny not in who(doc)
    assert "amy1.png#0" not in {m["id"] for m in merged["members"]}
    assert "amy1.png#0" in {m["id"] for m in doc["singletons"]}
    again = cluster(capsys, photos)  # the removed face stays out, the merge stays
    assert "amy1.png#0" in {m["id"] for m in again["singletons"]}
    assert who(again)[amy] == {"amy", "penny"}


def test_recluster_keeps_ids_by_overlap(tmp_path, capsys):
    photos = library(tmp_path / "photos")
    first = cluster(capsys, photos)
    again = cluster(capsys, photos, "--recluster")
    assert who(again) == who(first)
    assert again["changes"]["created"] == [] and again["changes"]["split"] == {}


def test_bad_cluster_arguments_are_one_line(tmp_path, capsys):
    from pipeline.cli import main

    photos = library(tmp_path / "photos")
    for argv in (["--name", "3=a/b"], ["--name", "x=ada"], ["--merge", "1"]):
        with pytest.raises(SystemExit) as exit_:
            main(["cluster", str(photos), *argv])
        assert exit_.value.code == 2
    assert (
        main(
            [
                "cluster",
                str(photos),
                "--store",
                str(tmp_path / "l.db"),
                "-o",
                str(tmp_path / "r"),
                "--merge",
                "1,99",
            ]
        )
        == 1
    )
    assert "no group 99" in capsys.readouterr().err
    assert main(["cluster", str(tmp_path / "nowhere")]) == 1
    assert "photo folder not found" in capsys.readouterr().err


def test_recurring_strangers_are_kept_and_grouped(tmp_path, capsys, trained):
    strangers = tmp_path / "strangers"
    group_photos = [str(p) for p in sorted(BBT.glob("bbt*.jpg"))]
    doc = run_json(
        capsys,
        "recognize",
        *group_photos,
        "--model",
        str(trained["model"]),
        "--no-output",
        "--keep-unknown",
        str(strangers),
    )
    unknown = sum(f["name"] == "unknown" for i in doc["images"] for f in i["faces"])
    kept = sorted(strangers.glob("*.png"))
    assert doc["kept_unknown"] == unknown == len(kept) and unknown >= 20
    when = {p.stat().st_mtime for p in kept}  # dated by the photos they came from
    assert when <= {Path(p).stat().st_mtime for p in group_photos}
    grouped = cluster(capsys, strangers)
    # the cast comes back across the five group photos: each group is one stranger seen in
    # several photos, and no crop holds a second face (neighbours are blanked)
    assert sum(g["faces"] for g in grouped["groups"]) + len(grouped["singletons"]) == len(kept)
    recurring = [g for g in grouped["groups"] if g["photos"] >= 3]
    assert len(recurring) >= 3
    # kept strangers' file times are when they were seen: the report says "seen"
    assert all(g["first_seen"] and g["last_seen"] for g in grouped["groups"])
    assert "seen " in (tmp_path / "report" / "index.html").read_text()


@pytest.mark.slow
def test_a_video_keeps_each_stranger_once_per_five_seconds(tmp_path, capsys, trained):
    from tests.conftest import CLIP

    strangers = tmp_path / "strangers"
    doc = run_json(
        capsys,
        "recognize-video",
        "--input",
        str(CLIP),
        "--model",
        str(trained["model"]),
        "--no-output",
        "--keep-unknown",
        str(strangers),
    )
    kept = sorted(strangers.glob("*.png"))
    assert doc["kept_unknown"] == len(kept) > 0
    assert len(kept) < doc["names"].get("unknown", 0)  # not one per frame
    start = CLIP.stat().st_mtime
    duration = doc["frames"] / doc["source_fps"]
    assert all(start <= p.stat().st_mtime <= start + duration + 1 for p in kept)
