"""Read a verification pairs file: CSV `path_a,path_b,same` or LFW's `pairs.txt`.

Both come out as a list of Pair with paths resolved against a root folder and a fold number:
LFW files declare their folds (`10 300` = 10 folds of 300 same then 300 different pairs); for a
CSV the i-th same pair and the i-th different pair go to fold i mod 10, so every fold holds
both kinds whatever order the file is in.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import FaceRecError, ImageError
from pipeline.files import read_file

DEFAULT_FOLDS = 10
_TRUE = {"1", "yes", "true", "same", "y", "t"}
_FALSE = {"0", "no", "false", "different", "n", "f"}
_MAX_PAIRS_FILE_BYTES = 64 * 1024 * 1024


class PairsFileError(FaceRecError):
    """The pairs file is missing, or a line of it cannot be understood."""


@dataclass(frozen=True, slots=True)
class Pair:
    path_a: Path
    path_b: Path
    same: bool
    fold: int


def parse_same(value: str) -> bool:
    """1/0, yes/no, true/false (any case) -> bool; anything else is a ValueError."""
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"same must be 1/0, yes/no or true/false, not {value!r}")


def read_pairs(path: str | os.PathLike[str], root: str | os.PathLike[str]) -> list[Pair]:
    """Pairs from a CSV or LFW pairs.txt file, image paths joined to `root`.

    Raises:
        PairsFileError: missing or unreadable file, a malformed line (named by number), or no pairs.
    """
    p = Path(path)
    try:
        data, _ = read_file(p, _MAX_PAIRS_FILE_BYTES)
        text = data.decode("utf-8-sig")
    except ImageError as err:  # missing, not a regular file (a FIFO, /dev/zero), too large
        raise PairsFileError(f"pairs file {err}") from err
    except UnicodeDecodeError as err:
        raise PairsFileError(f"{p}: cannot read the pairs file ({err})") from err
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise PairsFileError(f"{p}: no pairs in the file")
    base = Path(root)
    first = lines[0].replace(",", " ").split()
    if "path_a" in [f.strip().lower() for f in lines[0].split(",")]:
        pairs = _read_csv(text, p, base)
    elif all(f.isdigit() for f in first) and len(first) <= 2:
        pairs = _read_lfw(lines[1:], p, base, [int(f) for f in first])
    elif len(first) in (3, 4) and "," not in lines[0]:
        pairs = _read_lfw(lines, p, base, [])
    else:
        raise PairsFileError(
            f"{p}: not a pairs file: expected a CSV with a header path_a,path_b,same or "
            "LFW's pairs.txt (name n1 n2 / name1 n1 name2 n2)"
        )
    if not pairs:
        raise PairsFileError(f"{p}: no pairs in the file")
    return pairs


def _inside(base: Path, path: Path) -> bool:
    """Whether `path` names a file under `base`, judged on the names (an absolute path or ../
    that leaves it is outside; links inside it are the user's own business)."""
    root = os.path.normpath(os.path.abspath(base))
    return os.path.normpath(os.path.abspath(path)).startswith(root.rstrip(os.sep) + os.sep)


def _check_rows(
    rows: list[tuple[Path, Path, bool, int]], p: Path, base: Path
) -> list[tuple[Path, Path, bool]]:
    """Refuse a pair listed twice (in either order) or an image paired with itself: each would
    count one comparison twice, or a trivial one, and inflate the figures without a word. And
    refuse a path outside `base` (--root): a pairs file names images under it, and one handed
    over by somebody else must not make facerec read files anywhere on the machine.

    Raises:
        PairsFileError: naming the line and, for a repeat, the line it repeats.
    """
    first: dict[frozenset[Path], int] = {}
    for a, b, _, line in rows:
        if "\0" in f"{a}{b}":
            raise PairsFileError(f"{p}:{line}: a path holds a NUL byte")
        for path in (a, b):
            if not _inside(base, path):
                raise PairsFileError(
                    f"{p}:{line}: {path} is outside --root {base}; pairs name images under it"
                )
        if a == b:
            raise PairsFileError(f"{p}:{line}: an image paired with itself ({a.name})")
        key = frozenset((a, b))
        if key in first:
            raise PairsFileError(
                f"{p}:{line}: the same pair as line {first[key]}; remove one (it would count twice)"
            )
        first[key] = line
    return [(a, b, same) for a, b, same, _ in rows]


def _stratified_folds(same: list[bool], folds: int = DEFAULT_FOLDS) -> list[int]:
    counters = {True: 0, False: 0}
    out = []
    for s in same:
        out.append(counters[s] % folds)
        counters[s] += 1
    return out


def _read_csv(text: str, p: Path, base: Path) -> list[Pair]:
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
    missing = [c for c in ("path_a", "path_b", "same") if c not in fields]
    if missing:
        raise PairsFileError(f"{p}: CSV header lacks {', '.join(missing)}")
    found = []
    try:
        for row in reader:
            line = reader.line_num
            try:
                a, b = row[fields["path_a"]], row[fields["path_b"]]
                if not a or not b:
                    raise ValueError("empty path")
                same = parse_same(row[fields["same"]] or "")
                found.append((base / a.strip(), base / b.strip(), same, line))
            except (ValueError, TypeError) as err:
                raise PairsFileError(f"{p}:{line}: {err}") from err
    except csv.Error as err:  # a field over the csv module's 128 KB limit, a bad quote
        raise PairsFileError(f"{p}:{reader.line_num + 1}: {err}") from err
    rows = _check_rows(found, p, base)
    folds = _stratified_folds([s for _, _, s in rows])
    return [Pair(a, b, s, f) for (a, b, s), f in zip(rows, folds, strict=True)]


def _lfw_path(base: Path, name: str, number: str) -> Path:
    return base / name / f"{name}_{int(number):04d}.jpg"


def _read_lfw(lines: list[str], p: Path, base: Path, header: list[int]) -> list[Pair]:
    """LFW lines: `name n1 n2` (same person) or `name1 n1 name2 n2` (different)."""
    per_fold = header[1] * 2 if len(header) == 2 and header[1] > 0 else 0
    found = []
    for number, line in enumerate(lines, start=2 if header else 1):
        f = line.split()
        try:
            if len(f) == 3:
                found.append(
                    (_lfw_path(base, f[0], f[1]), _lfw_path(base, f[0], f[2]), True, number)
                )
            elif len(f) == 4:
                found.append(
                    (_lfw_path(base, f[0], f[1]), _lfw_path(base, f[2], f[3]), False, number)
                )
            else:
                raise ValueError(f"expected 3 or 4 fields, got {len(f)}")
        except ValueError as err:
            raise PairsFileError(f"{p}:{number}: {err}") from err
    rows = _check_rows(found, p, base)
    if per_fold:
        folds = [min(i // per_fold, header[0] - 1) for i in range(len(rows))]
    else:
        folds = _stratified_folds([s for _, _, s in rows])
    return [Pair(a, b, s, f) for (a, b, s), f in zip(rows, folds, strict=True)]
