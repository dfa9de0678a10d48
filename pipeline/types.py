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

import math
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

# A BGR uint8 picture (H, W, 3). Typed as any array: OpenCV's stubs give every result as
# one, and the readers (imageio) check the dtype where pictures come in.
Image: TypeAlias = NDArray[Any]
Embeddings: TypeAlias = NDArray[np.float32]

UNKNOWN = "unknown"


def _round(value: float, digits: int = 4) -> float:
    return round(float(value), digits)


def face_id(relpath: str, face: int | None = None, person: str | None = None) -> str:
    """What the CLI and the API call a stored face: its photo's path, inside the person's
    folder for a gallery's face (`person`), and `#face` where a photo's faces are told apart
    (a photo library: `photo.jpg#0` is its main face)."""
    if person is not None and relpath.startswith(person + "/"):
        relpath = relpath[len(person) + 1 :]
    return relpath if face is None else f"{relpath}#{face}"


def round_or_none(value: float | None, digits: int = 4) -> float | None:
    """For JSON: a rounded float, or None where a figure is undefined (also NaN, infinity)."""
    return None if value is None or not math.isfinite(value) else _round(value, digits)


# The flat records of --format jsonl|csv, one shape per result type (README "Output"): a box is
# always x1, y1, x2, y2; an image that gave no record of its own gives path and error only.
BOX = ("x1", "y1", "x2", "y2")
LANDMARK_COLUMNS = tuple(
    f"{p}_{a}"
    for p in ("left_eye", "right_eye", "nose", "left_mouth", "right_mouth")
    for a in ("x", "y")
)
BY_RECOGNIZER = "recognizer"  # what named a face (Match.by)
BY_NEAREST = "nearest"

FACE_ROW = (
    "path",
    "face",
    "name",
    "distance",
    "candidate",
    "probability",
    *BOX,
    "score",
    "by",
    "error",
)
DETECTION_ROW = ("path", "face", *BOX, "score", *LANDMARK_COLUMNS, "error")
NEIGHBOUR_ROW = ("rank", "person", "path", "distance", *BOX)


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

    def to_dict(self) -> dict[str, Any]:
        """Box, score and landmarks (to 0.1 pixel) for JSON: `detect`'s answer per face."""
        marks = None
        if self.landmarks is not None:
            marks = [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks]
        return {"box": self.box_list(), "score": _round(self.score), "landmarks": marks}

    def row(self, path: str, face: int) -> dict[str, Any]:
        """The flat record of detect --format jsonl|csv (DETECTION_ROW)."""
        doc = self.to_dict()
        points = [v for point in doc["landmarks"] or [] for v in point]
        return {
            "path": path,
            "face": face,
            **dict(zip(BOX, doc["box"], strict=True)),
            "score": doc["score"],
            **dict(zip(LANDMARK_COLUMNS, points, strict=False)),
        }


@dataclass(frozen=True, slots=True)
class ImageFaces:
    """The faces chosen in one image, their (N, D) embeddings, and how many were found.

    `error` says why the image could not be processed (OpenCV failed on it, out of memory):
    then there are no faces, and a batch job skips the image with that reason."""

    detections: list[Detection]
    embeddings: NDArray[np.float32]
    found: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """The classifier's answer for one embedding. `name` None means unknown.

    `candidate` is the enrolled person the SVM (or the distance) picked, the answer when known,
    and `distance` how far the face is from that person by the embedder's 1:K rule: how near
    the call was, known or not. `probability` is the SVM's calibrated probability that the face
    is the candidate rather than another enrolled person (None without an SVM); it says nothing
    about whether the face is an enrolled person at all, which the distance decides.
    `by_probability` is set when the distance was near enough but the probability too low.
    `by` says what decided: the trained recognizer (BY_RECOGNIZER) or, in a server's live
    gallery, the nearest face enrolled since its last refit (BY_NEAREST).
    """

    name: str | None
    probability: float | None
    distance: float
    candidate: str | None = None
    by_probability: bool = False
    by: str = BY_RECOGNIZER

    @property
    def label(self) -> str:
        return self.name if self.name is not None else UNKNOWN

    @property
    def shown_probability(self) -> float | None:
        """The probability where it means something: for a face the SVM named, or that it
        turned away; None for a stranger rejected by distance (the SVM still picks one of the
        enrolled people for it, often with a high probability) and without an SVM."""
        if self.probability is None or (self.name is None and not self.by_probability):
            return None
        return self.probability


@dataclass(frozen=True, slots=True)
class RecognizedFace:
    detection: Detection
    match: Match

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.match.label,
            "probability": round_or_none(self.match.shown_probability),
            "distance": round_or_none(self.match.distance),
            "candidate": self.match.candidate,
            "box": self.detection.box_list(),
            "score": _round(self.detection.score),
            "by": self.match.by,
        }

    def row(self, path: str, face: int) -> dict[str, Any]:
        """The flat record of --format jsonl|csv (FACE_ROW)."""
        doc = self.to_dict()
        box = doc.pop("box")
        return {"path": path, "face": face, **doc, **dict(zip(BOX, box, strict=True))}


@dataclass(frozen=True, slots=True)
class Skip:
    """An input a batch step passed over, and why."""

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Suspect:
    """A dataset image whose face is far from the rest of its person's images."""

    path: str
    person: str
    distance: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "person": self.person, "distance": _round(self.distance)}


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
    people_without_faces: tuple[str, ...] = ()
    suspects: tuple[Suspect, ...] = ()

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
            "people_without_faces": list(self.people_without_faces),
            "suspects": [s.to_dict() for s in self.suspects],
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
    calibration: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.path,
            "people": dict(self.people),
            "mode": self.mode,
            "notes": list(self.notes),
            "max_distance": _round(self.max_distance),
            "min_probability": _round(self.min_probability),
            "embedder": self.embedder_id,
            "calibration": dict(self.calibration),
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
class DetectResult:
    """Faces found in one image (facerec detect); `annotated` is where the drawn copy went."""

    path: str
    faces: tuple[Detection, ...]
    annotated: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "faces": [d.to_dict() for d in self.faces]}
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
    detect_every: int = 1
    faces_embedded: int = 0
    latency_ms: float = 0.0
    latency_ms_p95: float = 0.0
    dropped: int = 0
    timeline: dict[str, list[Any]] = field(default_factory=dict)  # name -> [Appearance]
    source_fps: float = 0.0
    audio: bool = False  # the input's sound was copied into the output video
    damaged: int = 0  # frames of a file that failed to decode and were passed over

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": self.frames,
            "frames_with_faces": self.frames_with_faces,
            "fps": _round(self.fps, 2),
            "names": dict(sorted(self.names.items(), key=lambda kv: (-kv[1], kv[0]))),
            "output": self.output,
            "ended_by": self.ended_by,
            "detect_every": self.detect_every,
            "faces_embedded": self.faces_embedded,
            "latency_ms": _round(self.latency_ms, 1),
            "latency_ms_p95": _round(self.latency_ms_p95, 1),
            "dropped_frames": self.dropped,
            "source_fps": _round(self.source_fps, 3),
            "audio": self.audio,
            "damaged_frames": self.damaged,
            "timeline": {n: [a.to_dict() for a in r] for n, r in self.timeline.items()},
        }


@dataclass(frozen=True, slots=True)
class Verification:
    """1:1 answer: are the main faces of two images the same person? `faces_a`/`faces_b`
    count the faces each image showed: with more than one, `face_a`/`face_b` is the one
    compared (the main face: largest, nearest the centre)."""

    same: bool
    distance: float
    max_distance: float
    face_a: Detection
    face_b: Detection
    faces_a: int = 1
    faces_b: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "distance": _round(self.distance),
            "threshold": _round(self.max_distance),
            "box_a": self.face_a.box_list(),
            "box_b": self.face_b.box_list(),
            "faces_a": self.faces_a,
            "faces_b": self.faces_b,
        }
