"""demo: extract, train and recognize on the bundled photos."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    open_gallery,
    progress,
    recognize_all,
)
from pipeline.cli.options import (
    model_options,
    recognizer_option,
    store_option,
)
from pipeline.cli.render import emit
from pipeline.errors import FaceRecError

KEPT = "what was embedded is stored; run it again to resume"


_REPO_DIR = Path(__file__).resolve().parent.parent

_DEMO_DIR = Path(__file__).resolve().parent / "_demo"  # the demo's photos, in an installed wheel


def add(sub: Any) -> None:
    p = sub.add_parser("demo", help="extract, train and recognize on the bundled sample")
    model_options(p)
    p.add_argument("-d", "--dataset", default="dataset", help="dataset/<person>/*.jpg to enrol")
    p.add_argument("--examples", default="examples", help="images to name")
    store_option(p)
    recognizer_option(p)
    p.add_argument("-o", "--output", default="output/demo", help="folder for annotated images")
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.classify import IdentityClassifier
    from pipeline.extract import extract_embeddings
    from pipeline.train import train_model

    dataset, examples = _bundled(args.dataset), _bundled(args.examples)
    output = args.output or "output/demo"
    recognizer = load_recognizer(args, with_model=False, store=args.store)  # loaded once
    spec = recognizer.embedder.spec
    with open_gallery(args.store, recognizer) as store:
        extract = extract_embeddings(dataset, store, recognizer, progress("embedding"))
        train = train_model(
            store, args.model, spec.max_distance, spec.min_probability, far=spec.far, rule=spec.rule
        )
    recognizer.classifier = IdentityClassifier.load(args.model, spec.id)
    results, skipped = recognize_all([examples], recognizer, output)
    doc = {
        "extract": extract.to_dict(),
        "train": train.to_dict(),
        "recognize": {
            "images": [r.to_dict() for r in results],
            "skipped": [s.to_dict() for s in skipped],
        },
    }
    lines = [
        f"1. extract-embeddings: {extract.embedded} embedded, {extract.unchanged} unchanged, "
        f"{len(extract.skipped)} skipped ({dataset})",
        f"2. train-model: {train.mode} on {len(train.people)} people: {', '.join(train.people)}",
        f"3. recognize ({examples}):",
        *[
            f"   {Path(r.path).name}: " + (", ".join(f.match.label for f in r.faces) or "no face")
            for r in results
        ],
        f"annotated images: {output}",
    ]
    emit(args, doc, lines)
    return 0


def _bundled(path: str) -> str:
    """A demo path as given if it exists, else the same folder of the source checkout, else
    the copy installed with the package (facerec demo anywhere after pip install)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return str(p)
    for base in (_REPO_DIR, _DEMO_DIR):
        if (base / p).exists():
            return str(base / p)
    raise FaceRecError(f"{path}: no such folder here, in a clone or installed with facerec")
