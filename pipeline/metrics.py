"""Verification metrics on pair distances: accuracy, LFW-style 10-fold accuracy, ROC, TAR@FAR, EER.

Pure functions of two arrays: `distances` (N,) and `same` (N,) booleans, where a pair is
called "same" when its distance is <= the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray


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


def best_threshold(distances: ArrayLike, same: ArrayLike) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy on these pairs; ties take the smallest."""
    d, s = _arrays(distances, same)
    candidates = candidate_thresholds(d)
    accuracies = ((d[None, :] <= candidates[:, None]) == s[None, :]).mean(axis=1)
    best = int(np.argmax(accuracies))
    return float(candidates[best]), float(accuracies[best])


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


def kfold_accuracy(distances: ArrayLike, same: ArrayLike, folds: int = 10) -> FoldResult:
    """K-fold threshold selection over pairs split in order into `folds` contiguous folds
    (LFW's pairs.txt lists its folds one after another)."""
    d, s = _arrays(distances, same)
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
    """(FAR, TAR) at every candidate threshold, FAR ascending; needs both kinds of pair."""
    d, s = _arrays(distances, same)
    if s.all() or not s.any():
        raise ValueError("ROC needs both same-person and different-person pairs")
    candidates = candidate_thresholds(d)
    accepted = d[None, :] <= candidates[:, None]
    tar = (accepted & s).sum(axis=1) / s.sum()
    far = (accepted & ~s).sum(axis=1) / (~s).sum()
    return far, tar


def roc_auc(distances: ArrayLike, same: ArrayLike) -> float:
    """Area under the ROC curve: the chance a random same pair is closer than a different one."""
    d, s = _arrays(distances, same)
    pos, neg = d[s], d[~s]
    if pos.size == 0 or neg.size == 0:
        raise ValueError("AUC needs both same-person and different-person pairs")
    closer = (pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(closer / (pos.size * neg.size))


def tar_at_far(distances: ArrayLike, same: ArrayLike, far: float) -> float:
    """Highest share of same pairs accepted while at most `far` of different pairs are."""
    rates, tars = roc_points(distances, same)
    ok = rates <= far + 1e-12
    return float(tars[ok].max()) if ok.any() else 0.0


def equal_error_rate(distances: ArrayLike, same: ArrayLike) -> float:
    """The error rate where false accepts and false rejects are equal (nearest ROC point)."""
    far, tar = roc_points(distances, same)
    frr = 1.0 - tar
    best = int(np.argmin(np.abs(far - frr)))
    return float((far[best] + frr[best]) / 2)
