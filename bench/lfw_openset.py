"""Build the open-set identification sets from the LFW dev folds as folder-per-person datasets,
for `facerec evaluate` (bench/openset.py scores the same shapes fold by fold, in-process).

    python bench/lfw_openset.py [--lfw ../shared/data/lfw-dev] [--out output/lfw-openset]
    facerec evaluate output/lfw-openset/known --unknown output/lfw-openset/strangers --folds 5
    facerec evaluate output/lfw-openset/rich --unknown output/lfw-openset/strangers --folds 10

- known/<name>/: every person of `gallery/` with 3 or more photos (253 people, 2,115 photos):
  many people with a few photos each, as LFW is;
- rich/<name>/: every person with 10 or more (54 people, 1,221 photos; Tony_Blair 144): few
  people with many photos taken over years;
- strangers/<name>/: the 1,548 photos of `strangers/`, people in no dev fold.
Images are copied (LFW is never committed; output/ is ignored by git). Skips when LFW is absent.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LFW = ROOT.parent / "shared" / "data" / "lfw-dev"


def people_images(folder: Path) -> dict[str, list[Path]]:
    """{person: their images, sorted}, people sorted by name."""
    return {p.name: sorted(p.glob("*.jpg")) for p in sorted(folder.iterdir()) if p.is_dir()}


def copy_people(people: dict[str, list[Path]], out: Path) -> int:
    for name, files in people.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, out / name / f.name)
    return sum(len(f) for f in people.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=LFW)
    parser.add_argument("--out", type=Path, default=ROOT / "output" / "lfw-openset")
    args = parser.parse_args()
    if not (args.lfw / "gallery").is_dir():
        print(f"skipped: {args.lfw / 'gallery'} not found (LFW dev folds live in ../shared)")
        return 0
    if args.out.exists():
        shutil.rmtree(args.out)
    gallery = people_images(args.lfw / "gallery")
    sets = {
        "known": {n: f for n, f in gallery.items() if len(f) >= 3},
        "rich": {n: f for n, f in gallery.items() if len(f) >= 10},
        "strangers": people_images(args.lfw / "strangers"),
    }
    for name, people in sets.items():
        images = copy_people(people, args.out / name)
        print(f"{args.out / name}: {len(people)} people, {images} images")
    print(f"facerec evaluate {args.out}/known --unknown {args.out}/strangers --folds 5")
    print(f"facerec evaluate {args.out}/rich --unknown {args.out}/strangers --folds 10")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
