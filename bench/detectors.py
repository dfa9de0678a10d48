"""Detector choice, measured: faces found and CPU time, each detector on the same inputs.

    python bench/detectors.py [--json]

Inputs: the repository's 62 images (dataset/ photos, examples/, the bbt group photos and the
40 bbt face crops), the group photos alone (examples/bbt1.jpg, obama_and_biden.jpg,
kit_with_rose.jpg and tests/data/bbt/bbt*.jpg), and the Hamilton clip (275 frames, one pass
per frame as recognize-video --detect-every 1 makes it). Faces are counted after O-Net's
confirmation, as the pipeline keeps them (FaceRecognizer.find_faces). CPU time is the process
time of detection alone. LFW accuracy per detector is `facerec evaluate-pairs ... --detector`
(README "Accuracy").
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import registry  # noqa: E402
from pipeline.core import FaceRecognizer  # noqa: E402
from pipeline.imageio import read_image  # noqa: E402

GROUPS = ["examples/bbt1.jpg", "examples/obama_and_biden.jpg", "examples/kit_with_rose.jpg"]


def images() -> dict[str, list[Path]]:
    every = sorted(
        [
            *ROOT.glob("dataset/*/*"),
            *ROOT.glob("examples/*.jpg"),
            *ROOT.glob("tests/data/bbt/*.jpg"),
            *ROOT.glob("tests/data/bbt/*/*.png"),
        ]
    )
    groups = [ROOT / g for g in GROUPS] + sorted(ROOT.glob("tests/data/bbt/bbt*.jpg"))
    return {"repository (62 images)": every, "group photos": groups}


def measure(recognizer: FaceRecognizer, paths: list[Path]) -> dict[str, float]:
    loaded = [read_image(p) for p in paths]
    start = time.process_time()
    found = [recognizer.find_faces(image) for image in loaded]
    cpu = time.process_time() - start
    return {
        "images": len(paths),
        "faces": sum(map(len, found)),
        "cpu_s": cpu,
        "images_without_face": sum(not f for f in found),
    }


def measure_clip(recognizer: FaceRecognizer) -> dict[str, float]:
    capture = cv2.VideoCapture(str(ROOT / "examples" / "short_hamilton_clip.mp4"))
    frames = faces = with_faces = 0
    cpu = 0.0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        start = time.process_time()
        found = recognizer.find_faces(frame, thorough=False)
        cpu += time.process_time() - start
        frames, faces, with_faces = frames + 1, faces + len(found), with_faces + bool(found)
    capture.release()
    return {"frames": frames, "faces": faces, "frames_with_faces": with_faces, "cpu_s": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    doc: dict[str, dict] = {}
    for name in registry.DETECTORS:
        recognizer = FaceRecognizer.from_models_dir(detector=name, backend="opencv")
        doc[name] = {label: measure(recognizer, paths) for label, paths in images().items()}
        doc[name]["Hamilton clip"] = measure_clip(recognizer)
    if args.json:
        print(json.dumps(doc, indent=2))
        return
    for name, rows in doc.items():
        for label, row in rows.items():
            print(
                f"{name:6s} {label:24s} "
                + "  ".join(
                    f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
                )
            )


if __name__ == "__main__":
    main()
