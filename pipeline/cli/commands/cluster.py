"""cluster: group the faces of unsorted photos into people; name, merge, remove."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    open_gallery,
    progress,
)
from pipeline.cli.options import (
    DISTANCE,
    default_store,
    model_options,
)
from pipeline.cli.render import emit
from pipeline.stores import open_store

KEPT = "every photo embedded so far is stored; run it again to resume"


# pipeline.cluster.METHODS, default first (not imported here: the CLI loads modules lazily)
CLUSTER_METHODS = ("whispers+centres", "whispers", "average", "hdbscan", "dbscan")


def add(sub: Any) -> None:
    p = sub.add_parser("cluster", help="group the faces of unsorted photos into people")
    model_options(p)
    p.add_argument("photos", metavar="PHOTOS_DIR", help="a folder of photos, any layout")
    p.add_argument(
        "-e",
        "--store",
        "--embeddings",
        dest="store",
        default="output/library.db",
        help="the library's own embeddings database (every face of every photo)",
    )
    p.add_argument(
        "-o",
        "--output",
        default="output/cluster",
        help="folder for index.html and the contact sheets",
    )
    p.add_argument(
        "--cut",
        type=DISTANCE,
        help="distance cut (default: the embedder's, chosen on LFW: 0.975 for "
        "sface, 0.85 for facenet)",
    )
    p.add_argument(
        "--method",
        choices=list(CLUSTER_METHODS),
        default=CLUSTER_METHODS[0],
        help="clustering method (docs/design.md compares them)",
    )
    p.add_argument(
        "--recluster",
        action="store_true",
        help="group every face afresh (ids kept by overlap) instead of adding new "
        "faces to the groups",
    )
    _edit_options(p)
    p.set_defaults(func=run, kept=KEPT)


def _edit_options(p: argparse.ArgumentParser) -> None:
    """What the user tells the grouping: names, merges, removals."""
    p.add_argument(
        "--name",
        type=_group_name,
        action="append",
        metavar="GROUP=NAME",
        help="enrol a group as a person: face crops into DATASET/NAME/ and the "
        "gallery store (several allowed)",
    )
    p.add_argument(
        "--merge",
        type=_group_ids,
        action="append",
        metavar="KEEP,OTHER",
        help="merge groups into the first one (several allowed)",
    )
    p.add_argument(
        "--remove",
        action="append",
        metavar="PHOTO#FACE",
        help="take a face out of its group for good (ids as in --json)",
    )
    p.add_argument("-d", "--dataset", default="dataset", help="where --name puts the crops")
    p.add_argument(
        "--gallery",
        default=default_store(),
        help="the gallery store --name enrols into (train-model's --store)",
    )


def run(args: argparse.Namespace) -> int:
    from pipeline.library.groups import edit_groups, group_library, load_library, name_group
    from pipeline.library.sheets import write_report

    recognizer = load_recognizer(args, with_model=False, store=args.store)
    cut = args.cut if args.cut is not None else recognizer.embedder.spec.cluster_distance
    with open_gallery(args.store, recognizer, all_faces=True) as store:
        library = group_library(
            args.photos, store, recognizer, cut, args.method, args.recluster, progress("embedding")
        )
        changes, extract = library.changes, library.extract
        if args.merge or args.remove:
            edit_groups(store, args.merge or (), args.remove or ())
            library = load_library(args.photos, store)
        named = {}
        if args.name:
            spec = recognizer.embedder.spec
            with open_store(
                args.gallery, spec.id, spec.output_dim, recognizer.detector.spec.id
            ) as gallery:
                for gid, name in args.name:
                    named[gid] = (
                        name,
                        name_group(
                            library, store, gid, name, recognizer, gallery, Path(args.dataset)
                        ),
                    )
            library = load_library(args.photos, store)
    library = type(library)(library.root, library.groups, library.singletons, changes, extract)
    written = write_report(library, Path(args.output))
    doc = library.to_dict() | {"cut": cut, "method": args.method, "index": written["index"]}
    doc["named"] = {str(g): {"name": n, "enrolled": k} for g, (n, k) in named.items()}
    lines = _lines(library, cut, args.method, named, Path(args.dataset))
    lines.append(f"index: {written['index']}")
    emit(args, doc, lines)
    return 0


def _lines(
    library: Any, cut: float, method: str, named: dict[int, tuple[str, int]], dataset: Path
) -> list[str]:
    """The table: what was embedded, the groups and what changed, what was enrolled."""
    changes, extract = library.changes, library.extract
    lines = []
    if extract is not None:
        lines.append(
            f"{extract.images} photos: {extract.embedded} embedded, "
            f"{extract.unchanged} unchanged, {len(extract.skipped)} skipped"
        )
    faces = sum(len(g.faces) for g in library.groups) + len(library.singletons)
    lines.append(
        f"{faces} faces: {len(library.groups)} groups, {len(library.singletons)} alone "
        f"(cut {cut:g}, {method})"
    )
    c = changes
    for what, ids in (
        ("created", c.created),
        ("grew", list(c.grew)),
        ("merged", list(c.merged)),
        ("split", list(c.split)),
        ("gone", c.gone),
    ):
        if ids:
            lines.append(f"{what}: " + ", ".join(str(i) for i in ids))
    for g in library.groups:
        label = f" {g.name}" if g.name else ""
        when = f", {g.when(library.sightings)}" if g.seen() else ""
        lines.append(
            f"  group {g.id}{label}: {len(g.faces)} faces in "
            f"{len({f.relpath for f in g.faces})} photos, spread {g.spread:.2f}{when}"
        )
    for gid, (name, count) in named.items():
        lines.append(
            f"named group {gid} {name}: {count} faces enrolled into "
            f"{dataset / name}; run train-model to recognize them"
        )
    return lines


def _group_name(text: str) -> tuple[int, str]:
    """An argparse type: GROUP=name, the name usable as a dataset folder."""
    from pipeline.extract import name_problem

    gid, sep, name = text.partition("=")
    name = name.strip()
    if not sep or not gid.strip().isdigit() or not name:
        raise argparse.ArgumentTypeError(f"expected GROUP=name, like 3=ada, not {text!r}")
    if any(c in name for c in "/\\") or name.startswith(".") or name_problem(name):
        raise argparse.ArgumentTypeError(f"{name!r} cannot be a person's folder name")
    return int(gid), name


def _group_ids(text: str) -> list[int]:
    """An argparse type: KEEP,OTHER[,OTHER...] group ids."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected group ids like 3,7, not {text!r}")
    return [int(p) for p in parts]
