"""Plain, frozen data objects that cross stage boundaries, and the conventions they follow.

Conventions (decided here, nowhere else):
- Images are BGR uint8 HxWx3, as cv2 gives them.
- Boxes are xyxy float32 in original-image pixels.
- Landmarks are (5, 2) float32: left eye, right eye, nose, left mouth corner, right mouth
  corner, where "left" means image-left.
- Embeddings are float32 and L2-normalised, (D,) or (N, D).
- Distance is Euclidean between unit vectors (0 to 2); thresholds are named max_distance.
- Unknown is None inside the library and the string "unknown" in JSON and tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

Image: TypeAlias = NDArray[np.uint8]
Embeddings: TypeAlias = NDArray[np.float32]

UNKNOWN = "unknown"


def _round(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


@dataclass(frozen=True, slots=True)
class Detection:
    """One face found in an image.

    `box` is the detector's box. `landmarks`, `landmark_box` and `landmark_score` are filled
    by the landmark stage: `landmark_box` is the tighter MTCNN-style box that embedders trained
    on MTCNN crops (FaceNet) expect.
    """

    box: NDArray[np.float32]
    score: float
    landmarks: NDArray[np.float32] | None = None
    landmark_box: NDArray[np.float32] | None = None
    landmark_score: float | None = None

    @property
    def area(self) -> float:
        x1, y1, x2, y2 = (float(v) for v in self.box)
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)

    def box_list(self) -> list[int]:
        return [int(round(float(v))) for v in self.box]


@dataclass(frozen=True, slots=True)
class Match:
    """The classifier's answer for one embedding. `name` None means unknown."""

    name: str | None
    probability: float
    distance: float

    @property
    def label(self) -> str:
        return self.name if self.name is not None else UNKNOWN


@dataclass(frozen=True, slots=True)
class RecognizedFace:
    detection: Detection
    match: Match

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.match.label,
            "probability": _round(self.match.probability),
            "distance": _round(self.match.distance),
            "box": self.detection.box_list(),
        }


@dataclass(frozen=True, slots=True)
class Skip:
    """An input a batch step passed over, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ExtractReport:
    """What extract_embeddings did. images == embedded + unchanged + len(skipped)."""

    images: int
    embedded: int
    unchanged: int
    removed: int
    skipped: tuple[Skip, ...]
    people: dict[str, int] = field(default_factory=dict)
    faces_seen: int = 0
    multi_face_images: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "images": self.images,
            "embedded": self.embedded,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [s.to_dict() for s in self.skipped],
            "people": dict(self.people),
            "faces_seen": self.faces_seen,
            "multi_face_images": self.multi_face_images,
        }


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What train_model fitted and where it wrote it."""

    path: str
    people: dict[str, int]
    mode: str
    notes: tuple[str, ...]
    max_distance: float
    min_probability: float
    embedder_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.path,
            "people": dict(self.people),
            "mode": self.mode,
            "notes": list(self.notes),
            "max_distance": _round(self.max_distance),
            "min_probability": _round(self.min_probability),
            "embedder": self.embedder_id,
        }


@dataclass(frozen=True, slots=True)
class ImageResult:
    """Recognition result for one image; `annotated` is where the drawn copy was written."""

    path: str
    faces: tuple[RecognizedFace, ...]
    annotated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "faces": [f.to_dict() for f in self.faces]}
        if self.annotated is not None:
            out["annotated"] = self.annotated
        return out


@dataclass(frozen=True, slots=True)
class VideoReport:
    """Closing summary of recognize_video. `names` maps a name to the frames it was seen in."""

    frames: int
    frames_with_faces: int
    fps: float
    names: dict[str, int]
    output: str | None = None
    ended_by: str = "end of stream"

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "fps": _round(self.fps, 2),
            "names": dict(sorted(self.names.items(), key=lambda kv: (-kv[1], kv[0]))),
            "output": self.output,
            "ended_by": self.ended_by,
        }
