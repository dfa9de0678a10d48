"""Write tests/data/pairs.csv: every pair of the repository's labelled one-person images.

    python bench/make_pairs.py

Faces: the 40 bbt face crops (tests/data/bbt/<person>/), the 11 photos of dataset/<person>/ and
the 3 one-person photos in examples/. Every same-person pair and every different-person pair
is listed once, paths relative to the repository root:

    facerec evaluate-pairs tests/data/pairs.csv --root .
"""

from __future__ import annotations

import csv
import itertools
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.imageio import iter_dataset  # noqa: E402

EXAMPLE_PEOPLE = {
    "alex_lacamoire1.jpg": "alex_lacamoire",
    "johnsnow_test1.jpg": "kit_harington",
    "obama1.jpg": "obama",
}


def labelled() -> list[tuple[str, str]]:
    faces = []
    for folder in ("tests/data/bbt", "dataset"):
        faces += [(i.person, f"{folder}/{i.relpath}") for i in iter_dataset(ROOT / folder)]
    faces += [(person, f"examples/{name}") for name, person in sorted(EXAMPLE_PEOPLE.items())]
    return faces


def main() -> None:
    faces = labelled()
    rows = [(a, b, int(pa == pb)) for (pa, a), (pb, b) in itertools.combinations(faces, 2)]
    out = ROOT / "tests/data/pairs.csv"
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path_a", "path_b", "same"])
        writer.writerows(rows)
    same = sum(r[2] for r in rows)
    print(
        f"{out}: {len(rows)} pairs of {len(faces)} faces ({same} same, {len(rows) - same} different)"
    )


if __name__ == "__main__":
    main()
