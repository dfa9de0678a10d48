"""detect: faces, boxes, landmarks and scores, no recognizer needed."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    one_image_failed,
)
from pipeline.cli.options import (
    format_option,
    model_options,
)
from pipeline.cli.render import Rows, emit
from pipeline.types import DETECTION_ROW

KEPT = "the annotated images written so far are kept"


def add(sub: Any) -> None:
    p = sub.add_parser("detect", help="find faces (boxes, landmarks, scores); no model needed")
    model_options(p)
    p.add_argument("targets", nargs="+", metavar="IMAGE|DIR")
    p.add_argument("-o", "--output", default="output/detected", help="folder for annotated images")
    p.add_argument("--no-output", action="store_true", help="do not write annotated images")
    format_option(p)
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.recognize import detect_images, list_inputs
    from pipeline.types import Skip

    recognizer = load_recognizer(args, with_model=False)
    images, skipped, lines = [], [], []
    rows = Rows(args.format, list(DETECTION_ROW)) if args.format in ("jsonl", "csv") else None
    output = None if args.no_output else args.output
    for item in detect_images(list_inputs(args.targets, output), recognizer, output):
        if isinstance(item, Skip):
            skipped.append(item.to_dict())
            if rows is not None:
                rows.write({"path": item.path, "error": item.reason})
            continue
        if rows is not None:
            for n, d in enumerate(item.faces):
                rows.write(d.row(item.path, n))
            if not item.faces:
                rows.write({"path": item.path, "error": "no face"})
        images.append(item.to_dict())
        lines.append(
            f"{item.path}: {len(item.faces)} faces"
            + "".join(f" {d.box_list()} {d.score:.2f};" for d in item.faces)
        )
    lines += [f"skipped {s['path']}: {s['reason']}" for s in skipped]
    one_image_failed(args.targets, [Skip(s["path"], s["reason"]) for s in skipped])
    if rows is None:
        emit(
            args,
            {"images": images, "skipped": skipped, "detector": recognizer.detector.spec.id},
            lines,
        )
    return 0
