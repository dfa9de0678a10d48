"""Pairs files: CSV and LFW pairs.txt come out as the same Pairs, bad lines are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.evaluation.pairsfile import PairsFileError, parse_same, read_pairs


def write(tmp_path: Path, text: str, name: str = "pairs.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("yes", True), ("TRUE", True), (" 0 ", False), ("No", False), ("false", False)],
)
def test_same_column_spellings(value: str, expected: bool) -> None:
    assert parse_same(value) is expected


def test_csv_paths_join_the_root_and_folds_hold_both_kinds(tmp_path: Path) -> None:
    rows = ["path_a,path_b,same"] + [f"a{i}.jpg,b{i}.jpg,1" for i in range(10)]
    rows += [f"c{i}.jpg,d{i}.jpg,no" for i in range(10)]
    pairs = read_pairs(write(tmp_path, "\n".join(rows), "p.csv"), tmp_path / "faces")
    assert len(pairs) == 20 and sum(p.same for p in pairs) == 10
    assert pairs[0].path_a == tmp_path / "faces" / "a0.jpg"
    for fold in range(10):  # same pairs listed first, yet each fold gets one of each kind
        assert sorted(p.same for p in pairs if p.fold == fold) == [False, True]


def test_lfw_format_with_declared_folds(tmp_path: Path) -> None:
    text = "2\t1\nAaron\t1\t2\nAaron\t1\tBob\t3\nCarl\t2\t4\nCarl\t1\tDan\t1\n"
    pairs = read_pairs(write(tmp_path, text), tmp_path)
    assert [p.same for p in pairs] == [True, False, True, False]
    assert [p.fold for p in pairs] == [0, 0, 1, 1]
    assert pairs[0].path_b == tmp_path / "Aaron" / "Aaron_0002.jpg"
    assert pairs[1].path_b == tmp_path / "Bob" / "Bob_0003.jpg"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("path_a,path_b,same\na.jpg,b.jpg,maybe\n", ":2: same must be"),
        ("path_a,path_b\na.jpg,b.jpg\n", "header lacks same"),
        ("10\t300\nAaron\t1\n", ":2: expected 3 or 4 fields"),
        ("Aaron\tone\ttwo\n", ":1: invalid literal"),
        ("hello world\n", "not a pairs file"),
        ("", "no pairs"),
        # a repeat, in either order, would count one comparison twice
        (
            "path_a,path_b,same\na.jpg,b.jpg,1\nc.jpg,d.jpg,0\nb.jpg,a.jpg,1\n",
            ":4: the same pair as line 2; remove one",
        ),
        ("Aaron\t1\t2\nAaron\t2\t1\n", ":2: the same pair as line 1"),
        ("Aaron\t1\t1\n", ":1: an image paired with itself"),
        ("path_a,path_b,same\na.jpg,b\0.jpg,1\n", ":2: a path holds a NUL byte"),
        ("path_a,path_b,same\n" + "a" * 140_000 + ".jpg,b.jpg,1\n", ":2: field larger than"),
    ],
)
def test_bad_pairs_files_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PairsFileError, match=message):
        read_pairs(write(tmp_path, text), tmp_path)


def test_missing_pairs_file(tmp_path: Path) -> None:
    with pytest.raises(PairsFileError, match="no such file"):
        read_pairs(tmp_path / "nope.csv", tmp_path)
