"""Models on real faces: files verified by hash, detections counted, distances that separate people."""

from __future__ import annotations

import builtins
import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import BBT, DATASET, EXAMPLES, ROOT

from pipeline import modelfiles, registry
from pipeline.core import FaceRecognizer
from pipeline.errors import ModelChecksumError, ModelError, ModelNotFoundError
from pipeline.imageio import read_image
from pipeline.vectors import pairwise_distances


def test_a_changed_model_file_is_refused_with_both_hashes(tmp_path: Path) -> None:
    source = modelfiles.locate(registry.DETECTOR.files[1])
    damaged = tmp_path / source.name
    shutil.copy(source, damaged)
    with damaged.open("ab") as handle:
        handle.write(b"\n")
    with pytest.raises(ModelChecksumError, match=registry.DETECTOR.files[1].sha256[:12]):
        modelfiles.read_verified(registry.DETECTOR.files[1], tmp_path)


def test_a_missing_model_file_names_where_it_looked_and_the_fix(tmp_path: Path) -> None:
    missing = registry.ModelFile(
        "absent.onnx", "0" * 64, package="no_such_pkg", requirement="no-such-pkg==1"
    )
    with pytest.raises(ModelNotFoundError, match="pip install 'no-such-pkg==1'"):
        modelfiles.locate(missing, tmp_path)


@pytest.mark.parametrize(
    ("image", "faces"),
    [
        (EXAMPLES / "kit_with_rose.jpg", 2),
        (EXAMPLES / "obama_and_biden.jpg", 3),  # with the girl at the right edge
        (EXAMPLES / "bbt1.jpg", 4),
        (BBT / "amy" / "amy1.png", 1),  # a tight grey face crop
        (DATASET / "obama" / "obama.jpg", 1),
    ],
    ids=["kit-rose", "obama-biden", "bbt1-group", "tight-crop", "single"],
)
def test_detector_finds_the_faces(recognizer, image: Path, faces: int) -> None:
    found = recognizer.find_faces(read_image(image))
    assert len(found) == faces
    for d in found:
        assert d.landmarks is not None and d.landmarks.shape == (5, 2)
        x1, y1, x2, y2 = d.box
        # both eyes inside the box and the left eye left of the right eye
        assert x1 <= d.landmarks[0, 0] < d.landmarks[1, 0] <= x2
        assert y1 <= d.landmarks[:2, 1].min() and d.landmarks[:2, 1].max() <= y2


def test_no_face_in_a_blank_image(recognizer) -> None:
    assert recognizer.find_faces(np.full((240, 320, 3), 127, np.uint8)) == []


def test_a_batch_embeds_exactly_like_single_faces(recognizer) -> None:
    image = read_image(EXAMPLES / "bbt1.jpg")
    detections, batch = recognizer.embed_faces(image)
    singles = np.vstack([recognizer.embed_detections(image, [d]) for d in detections])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)


def _embedding(recognizer, path: Path) -> np.ndarray:
    image = read_image(path)
    face = max(recognizer.find_faces(image), key=lambda d: d.area)
    return recognizer.embed_detections(image, [face])[0]


def test_same_person_is_closer_than_max_distance_and_strangers_farther(recognizer) -> None:
    limit = registry.EMBEDDERS["facenet"].max_distance
    obama = [_embedding(recognizer, p) for p in sorted((DATASET / "obama").iterdir())]
    biden = [_embedding(recognizer, p) for p in sorted((DATASET / "biden").iterdir())]
    sheldon = [_embedding(recognizer, p) for p in sorted((BBT / "sheldon").glob("*.png"))[:3]]
    same = pairwise_distances(np.array(obama), np.array(obama))[np.triu_indices(len(obama), 1)]
    across = pairwise_distances(np.array(obama), np.array(biden + sheldon))
    assert same.max() < limit < across.min()


def test_without_the_extra_the_error_says_how_to_install_it(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_dlib(name, *args, **kwargs):
        if name == "dlib":
            raise ImportError("No module named 'dlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dlib)
    with pytest.raises(ModelError, match=r"pip install '\.\[dlib\]'"):
        FaceRecognizer.from_models_dir(embedder="dlib")


REFERENCE = json.loads((ROOT / "tests" / "data" / "reference_embeddings.json").read_text())


@pytest.mark.parametrize("detector", sorted(registry.DETECTORS))
@pytest.mark.parametrize("name", sorted(registry.EMBEDDERS))
def test_preprocessing_is_pinned_by_a_reference_vector(name: str, detector: str) -> None:
    """A silent change of colour order, scaling, crop or centre moves this vector far beyond
    1e-4 (prewhitening instead of FaceNet's fixed standardisation moved it by 0.1-0.3).
    Regenerate with `python -m tests.regen_golden` only for a deliberate change, with a new id."""
    if name == "dlib":
        pytest.importorskip("dlib")
    reference = REFERENCE[f"{name}@{detector}"]
    recognizer = FaceRecognizer.from_models_dir(embedder=name, detector=detector)
    assert recognizer.embedder.id == reference["id"]
    [faces] = recognizer.embed_images([read_image(ROOT / reference["image"])])
    np.testing.assert_allclose(faces.embeddings[0], reference["embedding"], atol=1e-4)


def test_sface_crops_equal_opencvs_own_align_crop() -> None:
    """SFace was trained on FaceRecognizerSF.alignCrop's 112x112 crop: align.py's warp of the same
    5 landmarks must give the same pixels (to one grey level of rounding) and the same vector."""
    recognizer = FaceRecognizer.from_models_dir(embedder="sface")
    spec = recognizer.embedder.spec
    path = modelfiles.ModelFiles().path(spec.files[0])
    opencv = cv2.FaceRecognizerSF.create(str(path), "")
    compared = 0
    for photo in sorted(DATASET.glob("*/*")):
        image = read_image(photo)
        for face in recognizer.find_faces(image):
            x1, y1, x2, y2 = (float(v) for v in face.box)
            row = np.array(
                [[x1, y1, x2 - x1, y2 - y1, *face.landmarks.reshape(-1), face.score]], np.float32
            )
            theirs = opencv.alignCrop(image, row)
            ours = recognizer.embedder.crops(image, [face])[0]
            assert np.abs(ours.astype(int) - theirs.astype(int)).max() <= 1, photo
            vectors = recognizer.embedder.embed(np.stack([ours, theirs]))
            assert float(np.linalg.norm(vectors[0] - vectors[1])) < 1e-2, photo
            compared += 1
    assert compared >= 11
