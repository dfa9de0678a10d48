"""FaceTracker: name faces in a video without detecting and embedding every face of every frame.

Detection runs every `detect_every` frames; in between, each track keeps its last box. New
detections are matched to tracks by box overlap (IoU). A track is embedded when it is new or
its identity is uncertain (fewer than `votes_needed` answers, or answers that disagree), and
otherwise only every `refresh` detections. Its label is the majority of its last `votes`
answers, so a single odd frame does not flip a name on screen.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

import cv2
import numpy as np

from pipeline.boxes import iou
from pipeline.core import FaceRecognizer
from pipeline.types import Detection, Image, Match, RecognizedFace

DETECT_EVERY = 3
VOTES = 5
VOTES_NEEDED = 3
REFRESH = 8
MIN_IOU = 0.3
MAX_MISSED = 1
# Mean absolute difference (0-255) between 32x32 grey thumbnails of consecutive frames above
# which the shot has changed: every track is dropped and faces are detected afresh. On the
# Hamilton clip the three cuts score 26-30; camera moves stay under 13.
CUT_THRESHOLD = 20.0


def thumbnail(frame: Image) -> np.ndarray:
    """32x32 grey float thumbnail, for telling a cut from motion (about 0.3 ms)."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)


def match_boxes(
    tracks: list[np.ndarray], detections: list[np.ndarray], min_iou: float = MIN_IOU
) -> list[tuple[int, int]]:
    """Greedy one-to-one (track, detection) pairs, best overlap first, each above min_iou."""
    scores = [(iou(t, d), ti, di) for ti, t in enumerate(tracks) for di, d in enumerate(detections)]
    pairs, used_t, used_d = [], set(), set()
    for score, ti, di in sorted(scores, reverse=True):
        if score < min_iou:
            break
        if ti not in used_t and di not in used_d:
            pairs.append((ti, di))
            used_t.add(ti)
            used_d.add(di)
    return pairs


@dataclass
class Track:
    """One face followed across frames (internal, mutable)."""

    detection: Detection
    votes: deque[Match] = field(default_factory=lambda: deque(maxlen=VOTES))
    since_embed: int = 0
    missed: int = 0

    def uncertain(self) -> bool:
        recent = list(self.votes)[-VOTES_NEEDED:]
        return len(recent) < VOTES_NEEDED or len({m.name for m in recent}) > 1

    def match(self) -> Match:
        """The majority answer of the last votes; its latest instance (ties: the newest)."""
        counts = Counter(m.name for m in self.votes)
        top = max(counts.values())
        for m in reversed(self.votes):
            if counts[m.name] == top:
                return m
        raise AssertionError("a track always has a vote")


class FaceTracker:
    """Per-video state; feed frames in order to update()."""

    def __init__(
        self,
        recognizer: FaceRecognizer,
        detect_every: int = DETECT_EVERY,
        refresh: int = REFRESH,
    ) -> None:
        if recognizer.classifier is None:
            raise ValueError("FaceTracker needs a recognizer with a trained classifier")
        self.recognizer = recognizer
        self.detect_every = max(1, detect_every)
        self.refresh = max(1, refresh)
        self.tracks: list[Track] = []
        self.frames = 0
        self.embedded = 0
        self.cuts = 0
        self._since_detect = 0
        self._thumb: np.ndarray | None = None

    def update(self, frame: Image) -> list[RecognizedFace]:
        """The named faces of this frame (detecting and embedding only when due).

        With detect_every == 1 nothing is tracked: every face of every frame is detected,
        embedded and named on its own (the per-frame result the tracker is measured against).
        """
        if self.detect_every == 1:
            faces = self.recognizer.recognize(frame, thorough=False)
            self.frames += 1
            self.embedded += len(faces)
            return faces
        thumb = thumbnail(frame)
        cut = self._thumb is not None and float(np.abs(thumb - self._thumb).mean()) > CUT_THRESHOLD
        self._thumb = thumb
        if cut:
            self.cuts += 1
            self.tracks = []
        if cut or self.frames == 0 or self._since_detect >= self.detect_every:
            self._detect(frame)
            self._since_detect = 0
        self._since_detect += 1
        self.frames += 1
        # A track missed by the last detection keeps its votes (in case the face comes back)
        # but is not shown: a stale box is worse than a gap.
        return [
            RecognizedFace(t.detection, t.match()) for t in self.tracks if t.votes and not t.missed
        ]

    def _detect(self, frame: Image) -> None:
        found = self.recognizer.find_faces(frame, thorough=False)
        pairs = match_boxes([t.detection.box for t in self.tracks], [d.box for d in found])
        matched_t = {ti for ti, _ in pairs}
        matched_d = {di for _, di in pairs}
        for ti, di in pairs:
            track = self.tracks[ti]
            track.detection, track.missed = found[di], 0
            track.since_embed += 1
        kept = []
        for ti, track in enumerate(self.tracks):
            if ti not in matched_t:
                track.missed += 1
            if track.missed <= MAX_MISSED:
                kept.append(track)
        new = [Track(found[di]) for di in range(len(found)) if di not in matched_d]
        self.tracks = kept + new
        due = [
            t
            for t in self.tracks
            if t.missed == 0 and (not t.votes or t.uncertain() or t.since_embed >= self.refresh)
        ]
        if due:
            self._embed(frame, due)

    def _embed(self, frame: Image, tracks: list[Track]) -> None:
        assert self.recognizer.classifier is not None
        vectors = self.recognizer.embed_detections(frame, [t.detection for t in tracks])
        for track, answer in zip(tracks, self.recognizer.classifier.predict(vectors), strict=True):
            track.votes.append(answer)
            track.since_embed = 0
        self.embedded += len(tracks)
