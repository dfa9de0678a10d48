"""migrate: move a gallery to another embedder (re-embed, retrain, keep a backup)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    progress,
)
from pipeline.cli.options import (
    model_options,
    recognizer_option,
    store_option,
)
from pipeline.cli.render import emit

KEPT = "the old gallery is untouched; run it again to resume"


def add(sub: Any) -> None:
    p = sub.add_parser(
        "migrate",
        help="move a gallery (store and recognizer file) to another "
        "embedder: re-embed the dataset, retrain, keep a backup",
    )
    model_options(p)
    p.add_argument("-d", "--dataset", default="dataset", help="the dataset the store was made from")
    store_option(p)
    recognizer_option(p, "the recognizer file (trained again)")
    p.add_argument(
        "--classifier",
        choices=["auto", "svm", "nearest"],
        default="auto",
        help="svm, nearest person, or auto: svm up to 200 people",
    )
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.migrate import migrate_gallery
    from pipeline.registry import DEFAULT_EMBEDDER

    args.embedder = args.embedder or DEFAULT_EMBEDDER  # where a gallery moves to
    recognizer = load_recognizer(args, with_model=False)
    report = migrate_gallery(
        args.dataset, args.store, args.model, recognizer, progress("embedding"), args.classifier
    )
    if report.extract is None:
        lines = [f"{report.store} already holds {report.after} embeddings"]
    else:
        e = report.extract
        lines = [
            f"{report.store}: {report.before} -> {report.after}; {e.embedded} images embedded, "
            f"{len(e.skipped)} skipped",
            f"the old store is kept as {report.backup}",
        ]
    t = report.train
    lines.append(
        f"{t.path}: trained on {sum(t.people.values())} faces of {len(t.people)} people, "
        f"max_distance {t.max_distance:.3f}"
    )
    emit(args, report.to_dict(), lines)
    return 0
