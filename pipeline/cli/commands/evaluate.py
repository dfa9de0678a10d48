"""evaluate: 1:K identification accuracy by K-fold on a folder-per-person dataset."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import Any

from pipeline.cli.common import (
    given,
    load_recognizer,
    progress,
)
from pipeline.cli.options import (
    classifier_options,
    crop_options,
    model_options,
    number,
    threshold_options,
)
from pipeline.cli.render import emit, pct


def add(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="1:K identification accuracy by K-fold on a dataset")
    model_options(p)
    crop_options(p)
    threshold_options(p)
    p.add_argument("dataset", metavar="DATASET", help="folder per person, as for extract")
    p.add_argument(
        "-k",
        "--folds",
        type=number(2, 1000, "a whole number of folds, at least 2", integer=True),
        default=5,
        help="number of folds (default 5)",
    )
    p.add_argument("--unknown", metavar="DIR", help="images of people never enrolled")
    classifier_options(p)
    p.add_argument("-o", "--output", default="output/evaluate", help="folder for the plot")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plot")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.evaluation.identification import evaluate_identification

    recognizer = load_recognizer(args, with_model=False)
    spec = recognizer.embedder.spec
    r = evaluate_identification(
        args.dataset,
        recognizer,
        args.folds,
        given(args.max_distance, spec.max_distance),
        given(args.min_probability, spec.min_probability),
        args.unknown,
        None if args.no_plots else args.output,
        progress("embedding"),
        calibrate=args.max_distance is None,
        method=args.classifier,
        far=args.far,
    )
    strangers = f" + {r.unknown_faces} stranger faces" if r.unknown_faces else ""
    lines = [
        f"{r.folds}-fold identification: {r.known_faces} faces of {len(r.people)} people"
        f"{strangers}; embedder {r.embedder}, crop {r.crop}, classifier {r.mode}",
        "max_distance per fold: " + ", ".join(f"{t:.3f}" for t in r.fold_max_distance),
        f"accuracy {pct(r.accuracy)}: known people named right {pct(r.known_accuracy)}"
        + ("" if r.unknown_rejected is None else f", strangers rejected {pct(r.unknown_rejected)}"),
        f"rank-1 {pct(r.rank1)}"
        + ("" if r.dir_at_far_1e_2 is None else f"; DIR at FAR 1%: {pct(r.dir_at_far_1e_2)}"),
        "person: faces, precision, recall",
        *[f"  {n}: {s.faces}, {pct(s.precision)}, {pct(s.recall)}" for n, s in r.people.items()],
    ]
    if r.enrolled_only:
        lines.append(f"enrolled but not tested (one image): {', '.join(r.enrolled_only)}")
    mistakes = Counter((e["true"], e["recognized"]) for e in r.errors)
    lines += [f"mistake: {a} recognized as {b} ({n}x)" for (a, b), n in mistakes.most_common()]
    lines += [f"skipped {s.path}: {s.reason}" for s in r.skipped]
    lines += [f"{name}: {path}" for name, path in r.plots.items()]
    emit(args, r.to_dict(), lines)
    return 0
