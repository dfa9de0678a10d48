"""find: the enrolled faces nearest to the face in a photo (1:K search)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
)
from pipeline.cli.options import (
    COUNT,
    format_option,
    model_options,
    store_option,
)
from pipeline.cli.render import Rows, emit
from pipeline.types import NEIGHBOUR_ROW


def add(sub: Any) -> None:
    p = sub.add_parser("find", help="the enrolled faces nearest to the face in a photo")
    model_options(p)
    p.add_argument("image", metavar="IMAGE")
    store_option(p)
    p.add_argument("-k", "--top-k", type=COUNT, default=5, help="how many (default 5)")
    format_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.api import search_store
    from pipeline.imageio import read_image

    recognizer = load_recognizer(args, with_model=False, store=args.store)
    found = search_store(recognizer, read_image(args.image), args.store, args.top_k)
    if args.format in ("jsonl", "csv"):
        rows = Rows(args.format, list(NEIGHBOUR_ROW))
        for rank, n in enumerate(found, 1):
            rows.write(n.row(rank))
        return 0
    doc = {"image": args.image, "store": args.store, "neighbours": [n.to_dict() for n in found]}
    lines = [f"{i}. {n.person}  {n.path}  d={n.distance:.2f}" for i, n in enumerate(found, 1)]
    emit(args, doc, lines or ["the store holds no embedded faces"])
    return 0
