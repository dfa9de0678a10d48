"""extract-embeddings: embed the faces of a folder-per-person dataset into the store."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    open_gallery,
    progress,
)
from pipeline.cli.options import (
    COUNT,
    model_options,
    store_option,
)
from pipeline.cli.render import emit

KEPT = "every batch embedded so far is stored; run it again to resume"


def add(sub: Any) -> None:
    p = sub.add_parser("extract-embeddings", help="embed the faces of a folder-per-person dataset")
    model_options(p)
    p.add_argument(
        "--all-faces",
        action="store_true",
        help="keep every face of every image, not only the main one (photo "
        "libraries; find and export see them all, training the main ones)",
    )
    p.add_argument("-d", "--dataset", default="dataset", help="dataset/<person>/*.jpg")
    store_option(p)
    p.add_argument(
        "--ray",
        metavar="auto|ADDRESS",
        help="embed on a Ray cluster: auto joins the one on this machine (or "
        "starts one), ADDRESS another (ray://head:10001); needs .[ray]",
    )
    p.add_argument(
        "--ray-workers",
        type=COUNT,
        metavar="N",
        help="Ray actors, each loading the nets once (default: one per CPU)",
    )
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.extract import extract_embeddings
    from pipeline.imageio import dataset_path

    recognizer = load_recognizer(args, with_model=False, store=args.store)
    all_faces = True if args.all_faces else None  # None: the store's own way, new: main faces
    args.dataset = dataset_path(args.dataset)  # a URL it cannot read fails before Ray starts
    if args.ray is not None:
        from pipeline.extract_ray import start_ray

        started = start_ray(args.ray)  # before the store opens: a failure leaves nothing open
    try:
        with open_gallery(args.store, recognizer, all_faces) as store:
            if args.ray is None:
                report = extract_embeddings(args.dataset, store, recognizer, progress("embedding"))
            else:
                from pipeline.extract_ray import NetsRecipe, extract_embeddings_ray

                recipe = NetsRecipe.of(recognizer, args.models_dir, store.all_faces)
                report = extract_embeddings_ray(
                    args.dataset, store, recipe, args.ray_workers, progress("embedding")
                )
            stored = store.stored_faces() if store.all_faces else None
    finally:
        if args.ray is not None and started:
            import ray

            ray.shutdown()
    lines = [
        f"{report.images} images: {report.embedded} embedded, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.skipped)} skipped",
        "people: " + ", ".join(f"{n} ({c})" for n, c in report.people.items()),
    ]
    if report.multi_face_images:
        lines.append(
            f"{report.multi_face_images} images showed several faces; the main one was used"
        )
    lines += [f"skipped {s.path}: {s.reason}" for s in report.skipped]
    lines += [
        f"warning: {p} has no usable image and will not be recognized"
        for p in report.people_without_faces
    ]
    lines += [
        f"warning: {s.path} looks like someone else than the other {s.person} images "
        f"(median distance {s.distance:.2f}); check the folder"
        for s in report.suspects
    ]
    lines.append(f"store: {args.store}" + (f" ({stored} faces, every face kept)" if stored else ""))
    doc = report.to_dict() | ({"faces_stored": stored} if stored is not None else {})
    emit(args, doc, lines)
    return 0
