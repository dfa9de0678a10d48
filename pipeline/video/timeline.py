"""Timeline: for each person named in a video, the time ranges in which they were named."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Two appearances closer than this (seconds) are one range: a face turned away for a few
# frames is still the same scene.
MERGE_GAP_S = 0.5


@dataclass(frozen=True, slots=True)
class Appearance:
    """Frames first..last (inclusive, 0-based) and the same in seconds at the video's rate."""

    first_frame: int
    last_frame: int
    start_s: float
    end_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
        }


def timeline(named_frames: dict[str, list[int]], fps: float) -> dict[str, list[Appearance]]:
    """Ranges per person from the (sorted) frame indexes in which each was named; gaps shorter
    than MERGE_GAP_S join two ranges. A range ends at the end of its last frame."""
    gap = max(1, round(MERGE_GAP_S * fps))
    out: dict[str, list[Appearance]] = {}
    for name, frames in sorted(named_frames.items()):
        ranges: list[list[int]] = []
        for f in frames:
            if ranges and f - ranges[-1][1] <= gap:
                ranges[-1][1] = f
            else:
                ranges.append([f, f])
        out[name] = [Appearance(a, b, a / fps, (b + 1) / fps) for a, b in ranges]
    return out
