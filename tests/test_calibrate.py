"""The 1:K threshold follows the gallery's size: synthetic people in 64-d, strangers drawn from
the same distribution, and the share of strangers named compared with the target."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.calibrate import SOURCE_DEFAULT, SOURCE_GALLERY, calibrate_max_distance
from pipeline.train import fit_classifier
from pipeline.vectors import unit_rows


def people(rng: np.random.Generator, count: int, faces: int) -> tuple[np.ndarray, list[str]]:
    """`faces` noisy unit vectors around each of `count` random centres, and their names."""
    centres = unit_rows(rng.normal(size=(count, 64)))
    x = unit_rows(np.repeat(centres, faces, axis=0) + rng.normal(0, 0.09, (count * faces, 64)))
    return x, [f"p{i}" for i in range(count) for _ in range(faces)]


@pytest.mark.parametrize("count", [60, 400])
def test_the_calibrated_threshold_names_about_the_target_share_of_strangers(count: int) -> None:
    rng = np.random.default_rng(count)
    x, names = people(rng, count, 3)
    model = fit_classifier(x, names, 2.0, 0.0, method="nearest", far=0.03)
    assert model.calibration["source"] == SOURCE_GALLERY
    strangers, _ = people(rng, 2000, 1)
    named = np.mean([m.name is not None for m in model.predict(strangers)])
    assert 0.01 <= named <= 0.06, named
    enrolled, _ = people(np.random.default_rng(count), count, 4)  # same centres, a new face each
    fresh = enrolled[3::4]
    right = [m.name == n for m, n in zip(model.predict(fresh), names[::3], strict=True)]
    assert np.mean(right) >= 0.9


def test_a_larger_gallery_gets_a_tighter_threshold() -> None:
    rng = np.random.default_rng(0)
    x, names = people(rng, 400, 3)
    small = calibrate_max_distance(x[:60], names[:60], 2.0)
    large = calibrate_max_distance(x, names, 2.0)
    assert large.max_distance < small.max_distance


def test_the_ceiling_and_too_small_galleries_keep_the_default() -> None:
    rng = np.random.default_rng(1)
    x, names = people(rng, 60, 3)
    assert calibrate_max_distance(x, names, 0.5).source == SOURCE_DEFAULT  # never loosened
    few = calibrate_max_distance(x[:12], names[:12], 2.0)  # 4 people, 12 faces: too few
    assert (few.source, few.max_distance, few.impostors) == (SOURCE_DEFAULT, 2.0, 12)
