"""IdentityClassifier on synthetic unit-vector clusters: SVM, one-person mode, unknowns, files."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from pipeline.classify import MODE_DISTANCE, MODE_SVM, IdentityClassifier
from pipeline.errors import FaceRecError, IncompatibleModelError, NotTrainedError
from pipeline.vectors import pairwise_distances

DIM = 64


def clusters(
    people: int, per_person: int, seed: int = 0
) -> tuple[np.ndarray, list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(people, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = np.repeat(centres, per_person, axis=0) + rng.normal(
        scale=0.04, size=(people * per_person, DIM)
    )
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    names = [f"p{i}" for i in range(people) for _ in range(per_person)]
    return x.astype(np.float32), names, centres.astype(np.float32)


def stranger(seed: int = 99) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(1, DIM))
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.mark.parametrize("per_person", [1, 2, 5], ids=["one-image", "two-images", "cv-calibrated"])
def test_svm_names_known_people_and_rejects_a_stranger(per_person: int) -> None:
    x, names, centres = clusters(4, per_person)
    model = IdentityClassifier(max_distance=0.8, min_probability=0.0).fit(x, names)
    assert model.mode == MODE_SVM
    assert [m.name for m in model.predict(centres)] == ["p0", "p1", "p2", "p3"]
    [match] = model.predict(stranger())
    assert match.name is None and match.distance > 0.8


def test_one_person_falls_back_to_a_distance_matcher() -> None:
    x, names, centres = clusters(1, 3)
    model = IdentityClassifier(max_distance=0.8, min_probability=0.5).fit(x, names)
    assert model.mode == MODE_DISTANCE and "one person" in model.notes[0]
    known, unknown = model.predict(np.vstack([centres, stranger()]))
    assert known.name == "p0" and known.distance < 0.8
    assert unknown.name is None


def test_min_probability_turns_answers_unknown() -> None:
    x, names, centres = clusters(3, 2)
    model = IdentityClassifier(max_distance=2.0, min_probability=1.01).fit(x, names)
    assert all(m.name is None for m in model.predict(centres))


def test_save_load_gives_identical_predictions(tmp_path: Path) -> None:
    x, names, centres = clusters(3, 4)
    model = IdentityClassifier(0.8, 0.1, embedder_id="e1").fit(x, names)
    path = tmp_path / "model.skops"
    model.save(path)
    loaded = IdentityClassifier.load(path, "e1")
    assert loaded.predict(centres) == model.predict(centres)
    with pytest.raises(IncompatibleModelError, match="e1"):
        IdentityClassifier.load(path, "another-embedder")


def test_load_refuses_garbage_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip at all")
    with pytest.raises(FaceRecError, match="not a readable recognizer"):
        IdentityClassifier.load(junk)
    with pytest.raises(FaceRecError, match="run train-model"):
        IdentityClassifier.load(tmp_path / "absent.skops")


def test_load_refuses_a_file_with_foreign_types(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.ensemble import RandomForestClassifier

    path = tmp_path / "foreign.skops"
    sio.dump({"format": "facerec-recognizer", "x": RandomForestClassifier()}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(FaceRecError):
        IdentityClassifier.load(path)


def test_predict_before_fit_raises() -> None:
    with pytest.raises(NotTrainedError):
        IdentityClassifier(1.0, 0.0).predict(np.zeros((1, DIM), np.float32))


def test_pairwise_distances_match_euclidean() -> None:
    x, _, _ = clusters(2, 3)
    expected = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.testing.assert_allclose(pairwise_distances(x, x), expected, atol=1e-3)


def test_nearest_mode_names_real_faces_and_survives_a_round_trip(recognizer, tmp_path) -> None:
    """--classifier nearest on the bbt crops: four enrolled per person, the fifth recognized."""
    from conftest import BBT, DATASET

    from pipeline.classify import MODE_NEAREST
    from pipeline.evaluation.embedding import embed_paths
    from pipeline.imageio import iter_dataset, list_images

    items = list(iter_dataset(BBT))
    found, _ = embed_paths(recognizer, [i.path for i in items])
    enrolled = [i for i in items if not i.path.stem.endswith("5")]
    held_out = [i for i in items if i.path.stem.endswith("5")]
    x = np.concatenate([found[i.path] for i in enrolled])
    model = IdentityClassifier(1.08, 0.0, method="nearest").fit(x, [i.person for i in enrolled])
    assert model.mode == MODE_NEAREST and model.svm is None
    path = tmp_path / "nearest.skops"
    model.save(path)
    loaded = IdentityClassifier.load(path)
    answers = loaded.predict(np.concatenate([found[i.path] for i in held_out]))
    assert [m.name for m in answers] == [i.person for i in held_out]
    strangers, _ = embed_paths(recognizer, list_images(DATASET / "obama"))
    assert all(m.name is None for m in loaded.predict(np.concatenate(list(strangers.values()))))


def test_auto_switches_to_nearest_for_many_people() -> None:
    from pipeline.classify import MODE_NEAREST, NEAREST_ABOVE_PEOPLE

    x, names, centres = clusters(NEAREST_ABOVE_PEOPLE + 1, 1)
    model = IdentityClassifier(max_distance=0.8, min_probability=0.0).fit(x, names)
    assert model.mode == MODE_NEAREST
    assert [m.name for m in model.predict(centres[:3])] == ["p0", "p1", "p2"]
    with pytest.raises(FaceRecError, match="unknown classifier"):
        IdentityClassifier(1.0, 0.0, method="knn")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("method", ["svm", "nearest"])
def test_a_person_photographed_over_decades_is_still_near_their_own_photos(method: str) -> None:
    """The case that chose SFace's rule: 8 photos of a young face, 2 of the same person old. A new
    old photo is far from the person's centre (pulled to the young photos) but near the old ones;
    "centre" turns it away, "centre-or-nearest" names it, and a stranger is rejected by both."""
    rng = np.random.default_rng(3)
    young, old, other = (_unit(rng.normal(size=DIM)) for _ in range(3))
    aged = _unit(0.55 * young + 0.45 * old)  # the same person, decades later: between the two

    def near(centre: np.ndarray, n: int) -> np.ndarray:
        return _unit(centre + rng.normal(scale=0.03, size=(n, DIM)))

    x = np.concatenate([near(young, 8), near(aged, 2), near(other, 6)])
    names = ["ada"] * 10 + ["bob"] * 6
    probe = near(aged, 1)
    centres, both = (
        IdentityClassifier(0.5, 0.0, method=method, rule=r).fit(x, names)
        for r in ("centre", "centre-or-nearest")
    )
    [by_centre], [by_either] = centres.predict(probe), both.predict(probe)
    assert by_centre.name is None and by_centre.candidate == "ada" and by_centre.distance > 0.55
    assert by_either.name == "ada" and by_either.distance < 0.45
    for model in (centres, both):
        assert model.predict(stranger())[0].name is None
