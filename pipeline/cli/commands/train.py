"""train-model: fit the recognizer (SVM or nearest person) and its thresholds on the store."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    gallery_embedder,
    given,
)
from pipeline.cli.options import (
    basic_options,
    classifier_options,
    recognizer_option,
    store_option,
    threshold_options,
)
from pipeline.cli.render import calibration_text, emit, some
from pipeline.stores import open_existing

KEPT = "the previous recognizer file is unchanged"


def add(sub: Any) -> None:
    p = sub.add_parser("train-model", help="train the SVM recognizer on the stored embeddings")
    basic_options(p)
    threshold_options(p)
    store_option(p)
    recognizer_option(p)
    classifier_options(p)
    p.set_defaults(func=run, kept=KEPT)


def run(args: argparse.Namespace) -> int:
    from pipeline.train import train_model

    spec = gallery_embedder(args, args.store)
    with open_existing(args.store, spec.id, spec.output_dim) as store:
        report = train_model(
            store,
            args.model,
            given(args.max_distance, spec.max_distance),
            given(args.min_probability, spec.min_probability),
            calibrate=args.max_distance is None,
            method=args.classifier,
            far=given(args.far, spec.far),
            rule=spec.rule,
        )
    lines = [
        f"trained a {report.mode} recognizer on {sum(report.people.values())} faces of "
        f"{len(report.people)} people: " + some(list(report.people)),
        f"max_distance {report.max_distance:.3f} ({calibration_text(report.calibration)}), "
        f"min_probability {report.min_probability:.3f}",
        *[f"note: {n}" for n in report.notes],
        f"saved: {report.path}",
    ]
    emit(args, report.to_dict(), lines)
    return 0
