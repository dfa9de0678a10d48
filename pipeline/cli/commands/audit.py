"""audit: the wrong, duplicate and useless photos of a dataset, found before they are learnt;
--quarantine moves the flagged ones out with a manifest, --restore puts them back."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import load_recognizer, open_gallery, progress
from pipeline.cli.options import model_options, store_option
from pipeline.cli.render import emit
from pipeline.errors import FaceRecError

KEPT = "every batch embedded so far is stored; run it again to resume"


def add(sub: Any) -> None:
    from pipeline.audit.findings import KINDS, MOVABLE

    p = sub.add_parser(
        "audit",
        help="find photos of someone else, duplicates and poor faces in a dataset",
        description="Embed the dataset's new or changed photos into the store (as "
        "extract-embeddings), then report photos that look like another person, the same "
        "photo twice or under two people, group photos whose kept face is someone else, faces "
        "too small or turned, people too alike, and people whose photos spread into several "
        "looks; with an HTML report of each.",
    )
    model_options(p)
    p.add_argument("-d", "--dataset", default="dataset", help="dataset/<person>/*.jpg")
    store_option(p)
    p.add_argument("--output", default="output/audit", help="the HTML report's folder")
    p.add_argument("--no-report", action="store_true", help="write no HTML report")
    p.add_argument(
        "--quarantine",
        metavar="DIR",
        help="move the flagged photos to DIR (outside the dataset), with DIR/manifest.json",
    )
    p.add_argument(
        "--kinds",
        default=",".join(MOVABLE),
        help=f"which findings --quarantine moves (default: %(default)s; of {', '.join(KINDS)})",
    )
    p.add_argument(
        "--restore", metavar="MANIFEST", help="put back the photos a --quarantine moved, and stop"
    )
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.audit.findings import KINDS

    if args.restore:
        return _restore(args)
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise FaceRecError(f"--kinds: no finding {unknown[0]!r}; choose from {', '.join(KINDS)}")
    report, faces = _audit(args)
    doc = report.to_dict()
    lines = report.lines()
    if not args.no_report:
        from pipeline.audit.report import write_report

        doc["report"] = write_report(report, faces, Path(args.output))
        lines.append(f"report: {doc['report']}")
    if args.quarantine:
        from pipeline.audit.quarantine import quarantine

        photos = report.flagged(kinds)
        why = {p: f.kind for f in reversed(report.findings) for p in f.flagged}
        moved = quarantine(Path(report.dataset), photos, Path(args.quarantine), why)
        doc["quarantine"] = moved.to_dict()
        lines.append(
            f"moved {_photos(len(moved.moved))} to {args.quarantine} (undo: facerec audit "
            f"--restore {moved.manifest}); run train-model to learn without them"
        )
    emit(args, doc, lines)
    return 0


def _audit(args: argparse.Namespace) -> tuple[Any, list[Any]]:
    from pipeline.audit.run import audit_dataset

    recognizer = load_recognizer(args, with_model=False, store=args.store)
    with open_gallery(args.store, recognizer) as store:
        report = audit_dataset(args.dataset, store, recognizer, progress("embedding"))
        faces = store.records() if not args.no_report else []
    return report, faces


def _restore(args: argparse.Namespace) -> int:
    from pipeline.audit.quarantine import restore

    done = restore(Path(args.restore))
    lines = [f"put back {_photos(len(done.moved))}; run extract-embeddings and train-model"]
    lines += [f"not put back (gone, or its place is taken): {p}" for p in done.missing]
    emit(args, done.to_dict(), lines)
    return 0


def _photos(n: int) -> str:
    return f"{n} photo" if n == 1 else f"{n} photos"
