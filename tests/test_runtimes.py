"""Runtimes: OpenVINO runs the same FaceNet weights as cv2.dnn and must give the same embeddings
(within 1e-4), so stores and thresholds stay valid whichever is installed."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import BBT, DATASET

from pipeline import registry
from pipeline.core import FaceRecognizer
from pipeline.errors import ModelError
from pipeline.imageio import read_image
from pipeline.runtimes import available, choose_backend

needs_openvino = pytest.mark.skipif(
    not available("openvino"), reason="the openvino extra is not installed"
)


def real_crops(recognizer: FaceRecognizer) -> np.ndarray:
    paths = sorted(BBT.glob("*/*.png"))[:12] + sorted(DATASET.glob("*/*.jp*g"))
    crops = []
    for path in paths:
        image = read_image(path)
        found = recognizer.find_faces(image)
        crops.append(recognizer.embedder.crops(image, found))
    return np.concatenate(crops)


@pytest.mark.slow
@needs_openvino
def test_openvino_embeddings_equal_opencv_ones() -> None:
    from pipeline.embedders import load_embedder
    from pipeline.modelfiles import ModelFiles

    spec = registry.embedder_spec(
        "facenet"
    )  # OpenVINO cannot read SFace's int8 file (runs FaceNet)
    files = ModelFiles()
    opencv = load_embedder(spec, files, backend="opencv")
    openvino = load_embedder(spec, files, backend="openvino")
    crops = real_crops(FaceRecognizer.from_models_dir(embedder=spec, backend="opencv"))
    assert len(crops) >= 20
    a, b = opencv.embed(crops), openvino.embed(crops)
    assert np.abs(a - b).max() < 1e-4
    # the raw net outputs too, before centring and unit scaling
    blob = opencv.preprocess(crops)
    assert np.abs(opencv.runner.run(blob) - openvino.runner.run(blob)).max() < 1e-4


def test_auto_takes_the_fastest_installed_backend() -> None:
    facenet, dlib = registry.embedder_spec("facenet"), registry.embedder_spec("dlib")
    assert choose_backend(facenet) == ("openvino" if available("openvino") else "opencv")
    assert choose_backend(dlib) == "opencv"  # dlib runs in dlib; no other backend applies
    assert choose_backend(facenet, "opencv") == "opencv"
    with pytest.raises(ModelError, match="runs only with"):
        choose_backend(dlib, "openvino")


@pytest.mark.slow
@needs_openvino
def test_the_converted_model_is_cached_and_checked(tmp_path, monkeypatch) -> None:
    """The conversion (about 0.9 s) is kept; a damaged cached copy is converted again."""
    from pipeline.runtimes.openvino import OpenVinoRunner

    monkeypatch.setenv("FACEREC_CACHE", str(tmp_path))
    spec = registry.embedder_spec("facenet")
    blob = np.random.default_rng(0).uniform(-1, 1, (2, 3, 160, 160)).astype(np.float32)
    first = OpenVinoRunner(spec).run(blob)
    weights = next(tmp_path.glob("*.bin"))
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".bin", ".sha256", ".xml"]
    with open(weights, "r+b") as handle:  # a flipped byte in the cached weights
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    again = OpenVinoRunner(spec).run(blob)  # noticed by its sha256: converted again
    np.testing.assert_allclose(again, first, atol=1e-6)
    assert OpenVinoRunner(spec).run(blob).tolist() == again.tolist()  # from the cache
