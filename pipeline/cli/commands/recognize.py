"""recognize: name the faces in images and folders; a table, JSON, or rows as they come."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from pipeline.cli.common import load_recognizer, one_image_failed, recognize_all, stranger_keeper
from pipeline.cli.options import (
    DEFAULT_OUTPUT,
    format_option,
    keep_unknown_option,
    model_options,
    recognizer_option,
    threshold_options,
)
from pipeline.cli.render import Rows, emit, faces_line
from pipeline.errors import FaceRecError
from pipeline.types import FACE_ROW

KEPT = "the annotated images written so far are kept"


def add(sub: Any) -> None:
    p = sub.add_parser("recognize", help="name the faces in an image or a folder of images")
    model_options(p)
    threshold_options(p)
    p.add_argument(
        "targets",
        nargs="*",
        metavar="IMAGE|DIR",
        help="images and folders, as many as you like (a shell glob works)",
    )
    p.add_argument("-i", "--image", help="one more IMAGE|DIR")
    recognizer_option(p)
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="folder for annotated images")
    p.add_argument("--no-output", action="store_true", help="do not write annotated images")
    keep_unknown_option(p)
    format_option(p)
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    targets = list(args.targets) + ([args.image] if args.image else [])
    if not targets:
        raise FaceRecError("recognize needs an IMAGE or DIR (or --image PATH)")
    recognizer = load_recognizer(args, with_model=True)
    output = None if args.no_output else args.output
    keeper = stranger_keeper(args, 0)
    if args.format in ("jsonl", "csv"):
        return _stream(args.format, targets, recognizer, output, keeper)
    results, skipped = recognize_all(targets, recognizer, output, keeper)
    classifier = recognizer.classifier
    doc = {
        "images": [r.to_dict() for r in results],
        "skipped": [s.to_dict() for s in skipped],
        "max_distance": round(classifier.max_distance, 4),
    }
    lines = [faces_line(r, classifier) for r in results]
    lines += [f"skipped {s.path}: {s.reason}" for s in skipped]
    if output and results:
        lines.append(f"annotated images: {output}")
    if keeper is not None:
        doc["kept_unknown"] = keeper.kept
        lines.append(f"{keeper.kept} unknown faces kept in {keeper.folder}")
    emit(args, doc, lines)
    return 0


def _stream(
    fmt: str, targets: Sequence[str], recognizer: Any, output: str | None, keeper: Any
) -> int:
    """One row per face as each image is done (--format jsonl or csv)."""
    from pipeline.recognize import list_inputs, recognize_images
    from pipeline.types import Skip

    rows = Rows(fmt, list(FACE_ROW))
    skipped = []
    inputs = list_inputs(targets, output, keeper.folder if keeper is not None else None)
    for item in recognize_images(inputs, recognizer, output, keeper):
        if isinstance(item, Skip):
            rows.write({"path": item.path, "error": item.reason})
            skipped.append(item)
            continue
        if not item.faces:
            rows.write({"path": item.path, "error": "no face"})
        for n, face in enumerate(item.faces):
            rows.write(face.row(item.path, n))
    one_image_failed(targets, skipped)
    return 0
