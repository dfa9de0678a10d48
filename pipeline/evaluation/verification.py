"""1:1 verification on a pairs file: distances, the LFW 10-fold protocol, ROC, plots."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from pipeline.core import FaceRecognizer
from pipeline.errors import DatasetError
from pipeline.evaluation import metrics, plots
from pipeline.evaluation.embedding import NO_FACE, _no_progress, crop_name, embed_paths
from pipeline.evaluation.pairsfile import Pair
from pipeline.evaluation.reports import MissingPair, PairsReport
from pipeline.types import (
    Embeddings,
)
from pipeline.vectors import pairwise_distances

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


def pair_distances(
    pairs: Sequence[Pair], embeddings: dict[Path, Embeddings], reasons: dict[Path, str]
) -> tuple[NDArray[np.float64], list[MissingPair]]:
    """Distance per pair, NaN where a face is missing (those pairs are also listed)."""
    distances = np.full(len(pairs), np.nan, np.float64)
    missing = []
    for i, pair in enumerate(pairs):
        a, b = embeddings.get(pair.path_a), embeddings.get(pair.path_b)
        if a is None or b is None:
            lost = pair.path_a if a is None else pair.path_b
            reason = f"{lost}: {reasons.get(lost, NO_FACE)}"
            missing.append(MissingPair(str(pair.path_a), str(pair.path_b), reason))
        else:
            distances[i] = float(pairwise_distances(a[:1], b[:1])[0, 0])
    return distances, missing


def decided_right(
    d: NDArray[np.float64], same: NDArray[np.bool_], threshold: float
) -> NDArray[np.bool_]:
    """Per pair: decided right at `threshold`; a pair without a distance (NaN) never is."""
    with np.errstate(invalid="ignore"):
        return ~np.isnan(d) & ((d <= threshold) == same)


def kfold_with_missing(
    d: NDArray[np.float64], same: NDArray[np.bool_], folds: NDArray[np.int64]
) -> metrics.FoldResult:
    """LFW 10-fold: a threshold picked on the comparable pairs of the other folds, accuracy over
    every pair of the held-out fold, missing ones counted wrong."""
    ok = ~np.isnan(d)
    accuracies, thresholds = [], []
    for fold in np.unique(folds):
        train = ok & (folds != fold)
        if not train.any():  # nothing comparable to pick a threshold on: fold left out
            continue
        threshold, _ = metrics.best_threshold(d[train], same[train])
        test = folds == fold
        accuracies.append(float(decided_right(d[test], same[test], threshold).mean()))
        thresholds.append(threshold)
    return metrics.FoldResult(tuple(accuracies), tuple(thresholds))


def evaluate_pairs(
    pairs: Sequence[Pair],
    recognizer: FaceRecognizer,
    threshold: float,
    plot_dir: str | os.PathLike[str] | None = None,
    progress: Progress = _no_progress,
) -> PairsReport:
    """Verification metrics of the recognizer's embedder on `pairs` at `threshold` and by 10-fold.

    Accuracy figures count a pair without a face as wrong; the ROC figures (AUC, TAR@FAR, EER)
    are over the pairs that could be compared.

    Raises:
        DatasetError: no pair could be compared at all (usually a wrong --root).
    """
    paths = sorted({p for pair in pairs for p in (pair.path_a, pair.path_b)})
    embeddings, skipped = embed_paths(recognizer, paths, progress=progress)
    d, missing = pair_distances(pairs, embeddings, {Path(s.path): s.reason for s in skipped})
    ok = ~np.isnan(d)
    if not ok.any():
        raise DatasetError(
            f"no pair could be compared (first: {missing[0].reason}); "
            "are the paths in the pairs file relative to --root?"
        )
    same = np.array([p.same for p in pairs])
    right = decided_right(d, same, threshold)
    tar = float(right[same].mean()) if same.any() else None
    tnr = float(right[~same].mean()) if (~same).any() else None
    with np.errstate(invalid="ignore"):
        far = float((d[~same] <= threshold).mean()) if (~same).any() else None
    both = bool(same[ok].any() and (~same[ok]).any())
    folds = kfold_with_missing(d, same, np.array([p.fold for p in pairs])) if both else None
    if folds is not None and len(folds.accuracies) < 2:
        folds = None
    dc, sc = d[ok], same[ok]
    spec = recognizer.embedder.spec
    plotted: dict[str, str] = {}
    if plot_dir is not None and both:
        plotted = _pair_plots(dc, sc, len(missing), threshold, Path(plot_dir), spec.id)
    return PairsReport(
        pairs=len(pairs),
        same_pairs=int(same.sum()),
        different_pairs=int((~same).sum()),
        missing=tuple(missing),
        threshold=threshold,
        accuracy_at_default=float(right.mean()),
        balanced_accuracy_at_default=(tar + tnr) / 2
        if tar is not None and tnr is not None
        else None,
        tar_at_default=tar,
        far_at_default=far,
        accuracy_10fold=folds.mean if folds else None,
        accuracy_10fold_std=folds.std if folds else None,
        threshold_10fold=float(np.mean(folds.thresholds)) if folds else None,
        auc=metrics.roc_auc(dc, sc) if both else None,
        tar_at_far_1e_2=metrics.tar_at_far(dc, sc, 1e-2) if both else None,
        tar_at_far_1e_3=metrics.tar_at_far(dc, sc, 1e-3) if both else None,
        eer=metrics.equal_error_rate(dc, sc) if both else None,
        embedder=spec.id,
        crop=crop_name(spec),
        plots=plotted,
    )


def _pair_plots(
    d: NDArray[np.float64],
    same: NDArray[np.bool_],
    missing: int,
    threshold: float,
    plot_dir: Path,
    embedder: str,
) -> dict[str, str]:
    far, tar = metrics.roc_points(d, same)
    at_default = (float((d[~same] <= threshold).mean()), float((d[same] <= threshold).mean()))
    auc = metrics.roc_auc(d, same)
    title = f"{embedder}: {same.sum()} same / {(~same).sum()} different pairs, AUC {auc:.4f}"
    if missing:
        title += f" ({missing} missing)"
    return {
        "roc": plots.roc_png(
            far,
            tar,
            plot_dir / "roc.png",
            title,
            [(f"default threshold {threshold:.2f}", *at_default)],
        ),
        "histogram": plots.histogram_png(
            d[same], d[~same], threshold, plot_dir / "distances.png", title
        ),
    }
