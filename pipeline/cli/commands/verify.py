"""verify: are two photos the same person (1:1, main face of each)?"""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.cli.common import (
    given,
    load_recognizer,
)
from pipeline.cli.options import (
    DISTANCE,
    crop_options,
    model_options,
)
from pipeline.cli.render import emit
from pipeline.errors import FaceRecError


def add(sub: Any) -> None:
    p = sub.add_parser("verify", help="are two images the same person? (main face of each)")
    model_options(p)
    crop_options(p)
    p.add_argument("image_a", metavar="IMAGE_A")
    p.add_argument("image_b", metavar="IMAGE_B")
    p.add_argument("--max-distance", type=DISTANCE, help="same person when distance <= this")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.errors import NoFaceError
    from pipeline.imageio import read_image

    images = [read_image(args.image_a), read_image(args.image_b)]
    recognizer = load_recognizer(args, with_model=False)
    threshold = given(args.max_distance, recognizer.embedder.spec.verify_distance)
    try:
        result = recognizer.verify(*images, threshold)
    except NoFaceError as err:
        path = args.image_a if err.which == "first" else args.image_b
        raise FaceRecError(f"{path}: no face found") from err
    doc = {"image_a": args.image_a, "image_b": args.image_b, **result.to_dict()}
    verdict = "same person" if result.same else "different people"
    sign = "<=" if result.same else ">"
    lines = [f"{verdict} (distance {result.distance:.3f} {sign} threshold {threshold:.2f})"]
    for path, face, count in (
        (args.image_a, result.face_a, result.faces_a),
        (args.image_b, result.face_b, result.faces_b),
    ):
        if count > 1:
            lines.append(
                f"{path}: compared its main face {face.box_list()} (largest and nearest "
                f"the centre), one of {count}"
            )
    emit(args, doc, lines)
    return 0
