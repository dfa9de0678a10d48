"""Build the LFW open-set identification benchmark as a folder-per-person dataset.

    python bench/lfw_openset.py [--lfw ../shared/data/lfw-dev/images] [--out output/lfw-openset]
    facerec evaluate output/lfw-openset/known --unknown output/lfw-openset/strangers --folds 5

From the LFW dev images: every person with 3 or more images is enrolled (`known/<name>/`), and
every person with exactly one image is a stranger (`strangers/<name>.jpg`); people with two
images are left out. On the dev folds that is 221 people (1,071 images) and 791 strangers: a
gallery of about a thousand faces, where a fixed 1:K threshold measured on 6 people fails.
Images are copied (LFW is never committed; output/ is ignored by git). Skips when LFW is absent.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LFW_IMAGES = ROOT.parent / "shared" / "data" / "lfw-dev" / "images"


def people_images(lfw: Path) -> dict[str, list[Path]]:
    """{person: their LFW images, sorted}, people sorted by name."""
    return {p.name: sorted(p.glob("*.jpg")) for p in sorted(lfw.iterdir()) if p.is_dir()}


def fresh_output(description: str, default_out: Path) -> argparse.Namespace | None:
    """--lfw and --out parsed, `out` emptied; None (after saying so) when LFW is absent."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--lfw", type=Path, default=LFW_IMAGES)
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()
    if not args.lfw.is_dir():
        print(f"skipped: {args.lfw} not found (LFW dev folds live in ../shared)")
        return None
    if args.out.exists():
        shutil.rmtree(args.out)
    return args


def build(lfw: Path, out: Path) -> tuple[int, int, int]:
    """(people known, images known, strangers) written under `out`."""
    people = people_images(lfw)
    known = {n: files for n, files in people.items() if len(files) >= 3}
    strangers = [files[0] for files in people.values() if len(files) == 1]
    for name, files in known.items():
        (out / "known" / name).mkdir(parents=True, exist_ok=True)
        for f in files:
            shutil.copyfile(f, out / "known" / name / f.name)
    (out / "strangers").mkdir(parents=True, exist_ok=True)
    for f in strangers:
        shutil.copyfile(f, out / "strangers" / f.name)
    return len(known), sum(len(f) for f in known.values()), len(strangers)


def main() -> int:
    args = fresh_output(__doc__.splitlines()[0], ROOT / "output" / "lfw-openset")
    if args is None:
        return 0
    people, images, strangers = build(args.lfw, args.out)
    print(f"{args.out}: {people} people ({images} images) known, {strangers} strangers")
    print(f"facerec evaluate {args.out}/known --unknown {args.out}/strangers --folds 5")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
