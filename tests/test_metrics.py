"""Verification metrics against values computed by hand on tiny fixed sets of distances."""

from __future__ import annotations

import pytest

from pipeline.evaluation.metrics import (
    accuracy_at,
    best_threshold,
    best_threshold_interval,
    equal_error_rate,
    kfold_accuracy,
    roc_auc,
    tar_at_far,
)

# same pairs at 0.2, 0.4, 0.9; different pairs at 0.5, 1.0, 1.2
DISTANCES = [0.2, 0.4, 0.9, 0.5, 1.0, 1.2]
SAME = [True, True, True, False, False, False]


def test_accuracy_at_a_threshold() -> None:
    # t = 0.45: accepts 0.2, 0.4 -> right: 0.2, 0.4, 0.5, 1.0, 1.2 -> 5 of 6
    assert accuracy_at(DISTANCES, SAME, 0.45) == pytest.approx(5 / 6)
    # t = 0.95: accepts 0.2, 0.4, 0.9, 0.5 -> wrong only 0.5 -> 5 of 6
    assert accuracy_at(DISTANCES, SAME, 0.95) == pytest.approx(5 / 6)
    assert accuracy_at(DISTANCES, SAME, 0.1) == pytest.approx(3 / 6)


def test_best_threshold_takes_the_first_best_midpoint() -> None:
    threshold, accuracy = best_threshold(DISTANCES, SAME)
    assert threshold == pytest.approx(0.45) and accuracy == pytest.approx(5 / 6)


def test_roc_auc_counts_ordered_pairs() -> None:
    # of the 9 (same, different) pairs, only (0.9, 0.5) is misordered -> 8/9
    assert roc_auc(DISTANCES, SAME) == pytest.approx(8 / 9)
    assert roc_auc([0.5, 0.5], [True, False]) == pytest.approx(0.5)


def test_tar_at_far() -> None:
    assert tar_at_far(DISTANCES, SAME, 0.0) == pytest.approx(2 / 3)  # up to 0.45
    assert tar_at_far(DISTANCES, SAME, 1 / 3) == pytest.approx(1.0)  # up to 0.95
    assert tar_at_far([0.1, 0.2], [False, True], 0.0) == 0.0


def test_equal_error_rate() -> None:
    # at t = 0.45: FAR 0, FRR 1/3; at t = 0.7: FAR 1/3, FRR 1/3 -> EER 1/3
    assert equal_error_rate(DISTANCES, SAME) == pytest.approx(1 / 3)
    assert equal_error_rate([0.1, 0.9], [True, False]) == 0.0


def test_kfold_picks_thresholds_on_the_other_folds() -> None:
    # folds of two pairs: (0.2 s, 0.4 s), (0.9 s, 0.5 d), (1.0 d, 1.2 d)
    result = kfold_accuracy(DISTANCES, SAME, folds=3)
    # fold 1 held out: train {0.9 s, 0.5 d, 1.0 d, 1.2 d}: below 0.5 and 0.95 both give 3/4;
    #   the tie takes the smaller, just under 0.5 -> test 2/2
    # fold 2 held out: train {0.2, 0.4 s; 1.0, 1.2 d} -> t = 0.7 -> test: 0.9 s wrong, 0.5 d wrong
    # fold 3 held out: train {0.2, 0.4, 0.9 s; 0.5 d} -> t = 0.45 (3/4) -> test 2/2
    assert result.accuracies == pytest.approx((1.0, 0.0, 1.0))
    assert result.thresholds == pytest.approx((0.5, 0.7, 0.45), abs=1e-5)
    assert result.mean == pytest.approx(2 / 3)


def test_best_threshold_interval_spans_every_best_threshold() -> None:
    # separable: same 0.2, 0.4; different 0.8, 1.0: only the midpoint 0.6 is perfect.
    assert best_threshold_interval([0.2, 0.4, 0.8, 1.0], [1, 1, 0, 0]) == pytest.approx(
        (0.6, 0.6, 1.0)
    )
    # same 0.2, 0.6; different 0.4, 1.0. Candidates 0.3, 0.5, 0.8 are right on 3, 2, 3 of 4
    # pairs: the best (3/4) is reached at 0.3 and again at 0.8.
    low, high, acc = best_threshold_interval([0.2, 0.6, 0.4, 1.0], [1, 1, 0, 0])
    assert (low, high, acc) == pytest.approx((0.3, 0.8, 0.75))


def test_kfold_uses_declared_folds() -> None:
    # folds {0.2 s, 0.5 d} and {0.4 s, 1.0 d}: each picks its threshold on the other
    # fold 0 held out: train {0.4 s, 1.0 d} -> t = 0.7 -> test 0.2 s right, 0.5 d wrong -> 1/2
    # fold 1 held out: train {0.2 s, 0.5 d} -> t = 0.35 -> test 0.4 s wrong, 1.0 d right -> 1/2
    result = kfold_accuracy([0.2, 0.5, 0.4, 1.0], [1, 0, 1, 0], fold_ids=[0, 0, 1, 1])
    assert result.accuracies == pytest.approx((0.5, 0.5))
    assert result.thresholds == pytest.approx((0.7, 0.35))


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        accuracy_at([], [], 0.5)
    with pytest.raises(ValueError):
        roc_auc([0.1, 0.2], [True, True])
    with pytest.raises(ValueError):
        kfold_accuracy(DISTANCES, SAME, folds=7)
