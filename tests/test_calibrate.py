"""The 1:K threshold follows the gallery's size: synthetic people in 64-d, strangers drawn from
the same distribution, and the share of strangers named compared with the target."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.calibrate import SOURCE_DEFAULT, SOURCE_GALLERY, calibrate_max_distance
from pipeline.train import fit_classifier
from pipeline.vectors import RULE_CENTRE_OR_NEAREST, unit_rows


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


def test_the_same_picture_under_two_people_does_not_pull_the_threshold_to_zero() -> None:
    """A photo filed under two people is its own nearest "stranger" at distance 0: a dataset
    mistake, left out and counted; counted, 8 such copies among 1,208 faces made it 0.0."""
    rng = np.random.default_rng(2)
    x, names = people(rng, 400, 3)
    rule = RULE_CENTRE_OR_NEAREST  # SFace's: a copy is its twin's nearest photo
    clean = calibrate_max_distance(x, names, 2.0, far=0.0025, rule=rule)
    copies = rng.choice(len(x), 8, replace=False)
    noisy_x = np.vstack([x, x[copies]])
    noisy_names = names + [f"p{(int(i) // 3 + 1) % 400}" for i in copies]  # someone else's folder
    noisy = calibrate_max_distance(noisy_x, noisy_names, 2.0, far=0.0025, rule=rule)
    assert noisy.same_picture == 16  # each copy and its original
    # still lower than clean (a copy's twin's other photos are near it: mislabelled data that
    # only `facerec audit` finds), but far from 0.0, where it was with the copies counted
    assert 0.75 < noisy.max_distance < clean.max_distance


def test_a_gallery_with_photos_under_the_wrong_person_says_so() -> None:
    """5% of the faces filed under someone else pull max_distance down until most enrolled
    faces would be turned away; train-model says so and points to the audit."""
    rng = np.random.default_rng(3)
    x, names = people(rng, 200, 4)
    clean = fit_classifier(x, names, 2.0, 0.0, method="nearest", far=0.0025)
    assert not any("audit" in n for n in clean.notes)
    moved = list(names)
    for i in rng.choice(len(x), len(x) // 20, replace=False):
        moved[i] = f"p{(int(i) // 4 + 1) % 200}"
    noisy = fit_classifier(x, moved, 2.0, 0.0, method="nearest", far=0.0025)
    assert noisy.calibration["known_estimate"] < 0.9
    assert any("run facerec audit" in n for n in noisy.notes)
