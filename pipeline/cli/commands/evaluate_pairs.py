"""evaluate-pairs: 1:1 verification accuracy on a pairs file (LFW protocol)."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    given,
    load_recognizer,
    progress,
)
from pipeline.cli.options import (
    DISTANCE,
    crop_options,
    model_options,
)
from pipeline.cli.render import emit, pct


def add(sub: Any) -> None:
    p = sub.add_parser("evaluate-pairs", help="1:1 verification accuracy on a pairs file")
    model_options(p)
    crop_options(p)
    p.add_argument("pairs", metavar="PAIRS", help="CSV path_a,path_b,same or LFW pairs.txt")
    p.add_argument("--root", default=".", help="folder the paths in PAIRS are relative to")
    p.add_argument(
        "--max-distance",
        type=DISTANCE,
        help="same person when distance <= this (default: the embedder's 1:1 threshold)",
    )
    p.add_argument("-o", "--output", default="output/evaluate-pairs", help="folder for the plots")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.evaluation.pairsfile import read_pairs
    from pipeline.evaluation.verification import evaluate_pairs

    pairs = read_pairs(args.pairs, args.root)
    recognizer = load_recognizer(args, with_model=False)
    threshold = given(args.max_distance, recognizer.embedder.spec.verify_distance)
    plot_dir = None if args.no_plots else args.output
    r = evaluate_pairs(pairs, recognizer, threshold, plot_dir, progress("embedding"))
    lines = [
        f"{r.pairs} pairs ({r.same_pairs} same, {r.different_pairs} different), "
        f"{len(r.missing)} missing; embedder {r.embedder}, crop {r.crop}",
    ]
    if r.accuracy_10fold is not None:
        lines.append(
            f"LFW protocol (threshold chosen on the other folds): accuracy "
            f"{pct(r.accuracy_10fold)} +- {pct(r.accuracy_10fold_std)} "
            f"(mean chosen threshold {r.threshold_10fold:.3f})"
        )
    lines.append(
        f"at the default threshold {r.threshold:.2f}: accuracy {pct(r.accuracy_at_default)}, "
        f"balanced {pct(r.balanced_accuracy_at_default)} (same accepted "
        f"{pct(r.tar_at_default)}, different accepted {pct(r.far_at_default)})"
    )
    if r.auc is not None:
        lines.append(
            f"ROC AUC {r.auc:.4f}; same accepted {pct(r.tar_at_far_1e_2)} at FAR 1e-2, "
            f"{pct(r.tar_at_far_1e_3)} at FAR 1e-3; equal error rate {pct(r.eer)}"
        )
    lines += [f"missing: {m.path_a} | {m.path_b}: {m.reason}" for m in r.missing]
    lines += [f"{name}: {path}" for name, path in r.plots.items()]
    emit(args, r.to_dict(), lines)
    return 0
