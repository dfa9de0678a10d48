"""Verification metrics on pair distances: accuracy, LFW-style 10-fold accuracy, ROC, TAR@FAR, EER.

Pure functions of two arrays: `distances` (N,) and `same` (N,) booleans, where a pair is
called "same" when its distance is <= the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.metrics import det_curve, roc_auc_score, roc_curve


def _arrays(distances: ArrayLike, same: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    s = np.asarray(same, dtype=bool).reshape(-1)
    if d.shape != s.shape or d.size == 0:
        raise ValueError("distances and same must be non-empty and of equal length")
    return d, s


def accuracy_at(distances: ArrayLike, same: ArrayLike, threshold: float) -> float:
    """Share of pairs decided right when distance <= threshold means 'same person'."""
    d, s = _arrays(distances, same)
    return float(((d <= threshold) == s).mean())


def candidate_thresholds(distances: ArrayLike) -> NDArray[np.float64]:
    """Midpoints between sorted distinct distances, plus one below and one above all of them."""
    values = np.unique(np.asarray(distances, dtype=np.float64))
    mids = (values[:-1] + values[1:]) / 2
    return np.concatenate([[values[0] - 1e-6], mids, [values[-1] + 1e-6]])


def _sweep(
    d: NDArray[np.float64], s: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """For every candidate threshold (ascending): how many same and different pairs it accepts.

    One sort and a binary search, so memory stays linear in the number of pairs.
    """
    candidates = candidate_thresholds(d)
    same_sorted, diff_sorted = np.sort(d[s]), np.sort(d[~s])
    accepted_same = np.searchsorted(same_sorted, candidates, side="right")
    accepted_diff = np.searchsorted(diff_sorted, candidates, side="right")
    return candidates, accepted_same, accepted_diff


def best_threshold(distances: ArrayLike, same: ArrayLike) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy on these pairs; ties take the smallest."""
    d, s = _arrays(distances, same)
    candidates, accepted_same, accepted_diff = _sweep(d, s)
    accuracies = (accepted_same + (int((~s).sum()) - accepted_diff)) / d.size
    best = int(np.argmax(accuracies))
    return float(candidates[best]), float(accuracies[best])


def best_threshold_interval(distances: ArrayLike, same: ArrayLike) -> tuple[float, float, float]:
    """(lowest, highest, accuracy): the smallest and largest thresholds reaching the best accuracy.

    Their middle leaves the most room on both sides, which suits calibrating on few pairs
    better than best_threshold's smallest one.
    """
    d, s = _arrays(distances, same)
    candidates, accepted_same, accepted_diff = _sweep(d, s)
    accuracies = (accepted_same + (int((~s).sum()) - accepted_diff)) / d.size
    best = np.flatnonzero(accuracies == accuracies.max())
    return float(candidates[best[0]]), float(candidates[best[-1]]), float(accuracies[best[0]])


@dataclass(frozen=True, slots=True)
class FoldResult:
    """LFW protocol: a threshold picked on 9 folds, accuracy measured on the 10th."""

    accuracies: tuple[float, ...]
    thresholds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies))


def kfold_accuracy(
    distances: ArrayLike, same: ArrayLike, folds: int = 10, fold_ids: ArrayLike | None = None
) -> FoldResult:
    """K-fold threshold selection (the LFW protocol): pick on K-1 folds, measure on the last.

    `fold_ids` gives each pair's fold (as a pairs file declares them); without it the pairs are
    split in order into `folds` contiguous folds (LFW's pairs.txt lists its folds in turn).
    """
    d, s = _arrays(distances, same)
    if fold_ids is not None:
        ids = np.asarray(fold_ids).reshape(-1)
        if ids.shape != d.shape:
            raise ValueError("fold_ids must have one entry per pair")
        parts = [np.flatnonzero(ids == f) for f in np.unique(ids)]
        if len(parts) < 2:
            raise ValueError("need at least 2 folds")
    else:
        if not 2 <= folds <= d.size:
            raise ValueError(f"need between 2 and {d.size} folds, got {folds}")
        parts = np.array_split(np.arange(d.size), folds)
    accuracies, thresholds = [], []
    for test in parts:
        train = np.setdiff1d(np.arange(d.size), test)
        threshold, _ = best_threshold(d[train], s[train])
        thresholds.append(threshold)
        accuracies.append(accuracy_at(d[test], s[test], threshold))
    return FoldResult(tuple(accuracies), tuple(thresholds))


def roc_points(
    distances: ArrayLike, same: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(FAR, TAR) at every threshold, FAR ascending (scikit-learn's roc_curve on the negated
    distance, every point kept); needs both kinds of pair."""
    d, s = _arrays(distances, same)
    if s.all() or not s.any():
        raise ValueError("ROC needs both same-person and different-person pairs")
    far, tar, _ = roc_curve(s, -d, drop_intermediate=False)
    return far.astype(np.float64), tar.astype(np.float64)


def roc_auc(distances: ArrayLike, same: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random same pair is closer than a different one."""
    d, s = _arrays(distances, same)
    if s.all() or not s.any():
        raise ValueError("AUC needs both same-person and different-person pairs")
    return float(roc_auc_score(s, -d))


def tar_at_far(distances: ArrayLike, same: ArrayLike, far: float) -> float:
    """Highest share of same pairs accepted while at most `far` of different pairs are."""
    rates, tars = roc_points(distances, same)
    ok = rates <= far + 1e-12
    return float(tars[ok].max()) if ok.any() else 0.0


def equal_error_rate(distances: ArrayLike, same: ArrayLike) -> float:
    """The error rate where false accepts and false rejects are equal (nearest point of
    scikit-learn's det_curve)."""
    d, s = _arrays(distances, same)
    if s.all() or not s.any():
        raise ValueError("EER needs both same-person and different-person pairs")
    far, frr, _ = det_curve(s, -d)
    best = int(np.argmin(np.abs(far - frr)))
    return float((far[best] + frr[best]) / 2)
