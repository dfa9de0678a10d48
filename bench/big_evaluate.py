"""A folder-per-person set of 600 people and 2,500+ strangers, to check `facerec evaluate` at size.

    python bench/big_evaluate.py [--lfw ../shared/data/lfw-dev/images] [--out output/big-evaluate]
    /usr/bin/time -v facerec evaluate output/big-evaluate/known --unknown output/big-evaluate/strangers

Known: every LFW dev person with 2 or more images (450), plus 150 people with one image and a
jittered copy of it (mirrored, shifted a few pixels, brightness changed) so they can be tested.
Strangers: the other 641 one-image people, each with 3 jittered copies. The copies only make the
set large enough to measure memory and plots; accuracy figures come from openset.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from lfw_openset import LFW, people_images  # noqa: E402


def fresh_output(description: str, default_out: Path) -> argparse.Namespace | None:
    """--lfw and --out parsed, `out` emptied; None (after saying so) when LFW is absent."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lfw", type=Path, default=LFW / "images")
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    if not args.lfw.is_dir():
        print(f"skipped: {args.lfw} not found (LFW dev folds live in ../shared)")
        return None
    if args.out.exists():
        shutil.rmtree(args.out)
    return args


def jitter(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mirrored, slightly shifted, brighter or darker copy."""
    out = image[:, ::-1] if rng.random() < 0.5 else image
    dx, dy = rng.integers(-6, 7, size=2)
    out = cv2.warpAffine(
        out, np.float32([[1, 0, dx], [0, 1, dy]]), out.shape[1::-1], borderMode=cv2.BORDER_REFLECT
    )
    return cv2.convertScaleAbs(
        out, alpha=float(rng.uniform(0.8, 1.2)), beta=float(rng.uniform(-20, 20))
    )


def main() -> int:
    args = fresh_output(__doc__.splitlines()[0], ROOT / "output" / "big-evaluate")
    if args is None:
        return 0
    rng = np.random.default_rng(0)
    people = people_images(args.lfw)
    singles = [n for n, files in people.items() if len(files) == 1]
    known = [n for n, files in people.items() if len(files) >= 2] + singles[:150]
    for name in known:
        (args.out / "known" / name).mkdir(parents=True)
        for f in people[name]:
            shutil.copyfile(f, args.out / "known" / name / f.name)
        if len(people[name]) == 1:
            image = cv2.imread(str(people[name][0]))
            cv2.imwrite(str(args.out / "known" / name / "jittered.jpg"), jitter(image, rng))
    strangers = args.out / "strangers"
    strangers.mkdir(parents=True)
    for name in singles[150:]:
        image = cv2.imread(str(people[name][0]))
        cv2.imwrite(str(strangers / f"{name}.jpg"), image)
        for k in range(3):
            cv2.imwrite(str(strangers / f"{name}_j{k}.jpg"), jitter(image, rng))
    count = sum(1 for _ in strangers.iterdir())
    print(f"{args.out}: {len(known)} people known, {count} stranger images", file=sys.stderr)
    print(f"facerec evaluate {args.out}/known --unknown {strangers}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
