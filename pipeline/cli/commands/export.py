"""export: the stored embeddings as .npy, CSV and JSON Lines."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import (
    gallery_embedder,
)
from pipeline.cli.options import (
    basic_options,
    store_option,
)
from pipeline.cli.render import emit
from pipeline.stores import open_existing


def add(sub: Any) -> None:
    p = sub.add_parser("export", help="write the stored embeddings as .npy, CSV and JSON Lines")
    basic_options(p)
    store_option(p)
    p.add_argument(
        "-o",
        "--output",
        default="output/export",
        help="folder for embeddings.npy, faces.csv, faces.jsonl (default output/export)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.export import export_store

    spec = gallery_embedder(args, args.store)
    with open_existing(args.store, spec.id, spec.output_dim) as store:
        written = export_store(store, Path(args.output))
    doc = {
        "faces": written.faces,
        "files": written.files,
        "embedder": spec.id,
        "detector": written.detector,
    }
    lines = [f"{written.faces} faces exported: " + ", ".join(written.files)]
    emit(args, doc, lines)
    return 0
