"""What `facerec audit` reports: findings, each with the photos involved, the distances that
made it one, and what to do; and the report that holds them (JSON, text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Finding kinds, most harmful first (the text and the HTML report keep this order).
SOMEONE_ELSE = "someone_else"  # a photo of another person in this person's folder
TWO_PEOPLE = "two_people"  # the same photo filed under two people
WRONG_MAIN_FACE = "wrong_main_face"  # a group photo whose kept face is not the person
DUPLICATE = "duplicate"  # the same photo twice in one folder (exact, or resized/re-encoded)
POOR_FACE = "poor_face"  # too small or too turned to teach the recognizer
ALIKE = "alike"  # two people whose photos overlap at the gallery's threshold
SPREAD = "spread"  # one person whose photos fall into separate clusters
KINDS = (SOMEONE_ELSE, TWO_PEOPLE, WRONG_MAIN_FACE, DUPLICATE, POOR_FACE, ALIKE, SPREAD)
# What --quarantine moves unless told otherwise: photos that are wrong, not merely weak.
MOVABLE = (SOMEONE_ELSE, WRONG_MAIN_FACE, DUPLICATE)

ADVICE = {
    SOMEONE_ELSE: "look at it; if it is not this person, move it to the right folder or remove it",
    TWO_PEOPLE: "one of these folders is wrong: keep the photo only where it belongs",
    WRONG_MAIN_FACE: "crop the photo to the person, or remove it: the face kept is someone else",
    DUPLICATE: "remove the copy: a photo twice weighs that one look double",
    POOR_FACE: "replace it with a sharper, larger, more frontal photo",
    ALIKE: "add more varied photos of both; check the photos named",
    SPREAD: "normal for photos years apart; photos between the looks help recognition",
}


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing to look at: `photos` are dataset paths (person/file), the first the one the
    finding is about; `flagged` the ones --quarantine would move."""

    kind: str
    person: str
    photos: tuple[str, ...]
    sureness: float  # 0-1, for ranking within a kind
    detail: str  # one line: what was measured
    numbers: dict[str, Any] = field(default_factory=dict)
    flagged: tuple[str, ...] = ()
    other: str | None = None  # the other person it involves, if any

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "person": self.person,
            "other": self.other,
            "photos": list(self.photos),
            "flagged": list(self.flagged),
            "sureness": round(self.sureness, 3),
            "detail": self.detail,
            "numbers": self.numbers,
            "advice": ADVICE[self.kind],
        }


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Every finding of one audit, by kind, most sure first; with what was audited."""

    dataset: str
    photos: int
    people: int
    findings: tuple[Finding, ...]
    limits: dict[str, float]
    extract: dict[str, Any] = field(default_factory=dict)
    skipped: tuple[str, ...] = ()  # photos the audit could not read (for the image checks)

    def of(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def flagged(self, kinds: tuple[str, ...] = MOVABLE) -> list[str]:
        """Every photo the findings of `kinds` would move, once each, in path order."""
        return sorted({p for f in self.findings if f.kind in kinds for p in f.flagged})

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "photos": self.photos,
            "people": self.people,
            "counts": {k: len(self.of(k)) for k in KINDS},
            "findings": [f.to_dict() for f in self.findings],
            "limits": self.limits,
            "extract": self.extract,
            "skipped": list(self.skipped),
        }

    def lines(self, most: int = 10) -> list[str]:
        """The text summary: counts, then the surest findings of each kind."""
        out = [f"{self.photos} photos of {self.people} people in {self.dataset}"]
        for kind in KINDS:
            found = self.of(kind)
            if not found:
                continue
            out.append(f"{kind.replace('_', ' ')}: {len(found)} ({ADVICE[kind]})")
            for f in found[:most]:
                out.append(f"  {f.photos[0]}: {f.detail}")
            if len(found) > most:
                out.append(f"  ... and {len(found) - most} more (--json or the HTML report)")
        if len(out) == 1:
            out.append("nothing found")
        return out
