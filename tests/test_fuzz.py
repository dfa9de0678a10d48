"""Fuzz: random and mutated image bytes through the loader and the detector.

The process must never die: every input is either decoded (and then searched for faces) or
refused with an ImageError.
"""

from __future__ import annotations

import numpy as np
from conftest import DATASET, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import ImageError
from pipeline.imageio import decode_image

SEEDS = [
    (DATASET / "obama" / "obama2.jpg").read_bytes(),
    (ROOT / "tests" / "data" / "bbt" / "amy" / "amy1.png").read_bytes(),
]


def load_and_detect(recognizer, data: bytes) -> None:
    try:
        image = decode_image(data, "fuzz")
    except ImageError:
        return
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    for face in recognizer.find_faces(image):
        assert face.box.shape == (4,) and np.isfinite(face.box).all()


@st.composite
def mutated(draw) -> bytes:
    """A real JPEG or PNG with bytes flipped, cut, or spliced in."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        pos = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[pos] ^= draw(st.integers(1, 255))
        elif kind == "cut":
            del data[pos : pos + draw(st.integers(1, 4096))]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=64))
        else:  # headers hold the sizes: hit them often
            data[draw(st.integers(0, min(len(data), 64) - 1))] = draw(st.integers(0, 255))
        if not data:
            break
    return bytes(data)


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(data=st.binary(max_size=4096))
def test_random_bytes_never_crash(recognizer, data: bytes) -> None:
    load_and_detect(recognizer, data)


@SETTINGS
@given(data=mutated())
def test_mutated_images_never_crash(recognizer, data: bytes) -> None:
    load_and_detect(recognizer, data)
