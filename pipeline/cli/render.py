"""How results reach the terminal: a table of text lines or one JSON document (--json), rows
as they come (--format jsonl/csv), and the words for a decision. The results' own to_dict()
and row() give the fields; this module only prints them."""

from __future__ import annotations

import argparse
import json
import math
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

from pipeline.calibrate import MIN_IMPOSTORS, MIN_PEOPLE
from pipeline.errors import FaceRecError


def finite(value: Any) -> Any:
    """The document with every NaN or infinity as null: strict JSON parsers reject those tokens."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def printable(line: str) -> str:
    """A text line with control characters shown as escapes: a file name holding a terminal
    escape sequence (\x1b[...) must not reach the terminal raw through a "skipped" line."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in line)


def emit(args: argparse.Namespace, doc: dict[str, Any], lines: Sequence[str]) -> None:
    try:
        if args.json:
            print(json.dumps(finite(doc), indent=2, ensure_ascii=False, allow_nan=False))
        else:
            print("\n".join(printable(line) for line in lines))
        sys.stdout.flush()  # a closed pipe shows up here, inside main's handlers
    except BrokenPipeError:
        raise
    except OSError as err:  # stdout redirected to a full disk
        raise FaceRecError(f"standard output: cannot write ({err.strerror or err})") from err


class Rows:
    """One line per result as soon as it is known (--format jsonl or csv), so a large folder
    streams into another program; csv gets its header first."""

    def __init__(self, fmt: str, fields: list[str]) -> None:
        import csv

        self.fmt, self.fields = fmt, fields
        self._csv = csv.DictWriter(sys.stdout, fields, extrasaction="ignore", lineterminator="\n")
        if fmt == "csv":
            self._csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            print(json.dumps(finite(row), ensure_ascii=False, allow_nan=False))
        else:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        sys.stdout.flush()


def some(names: list[str], shown: int = 12) -> str:
    """The names, or the first `shown` of them and how many more (a gallery may hold thousands)."""
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def calibration_text(cal: dict[str, Any]) -> str:
    text = str(cal.get("source"))
    if cal.get("far_estimate") is None and cal.get("people", 0) >= 1:
        return (
            f"{text}; {cal.get('people')} people, {cal.get('impostors', 0)} faces: too few to "
            f"estimate what share of strangers would be named ({MIN_PEOPLE} people and "
            f"{MIN_IMPOSTORS} faces needed)"
        )
    if cal.get("far_estimate") is not None:
        text += (
            f"; {cal['people']} people: about {pct(cal['far_estimate'])} of strangers "
            f"would be named, {pct(cal.get('known_estimate'))} of enrolled faces accepted"
        )
    if cal.get("same_picture"):
        text += (
            f"; {cal['same_picture']} photos are the same picture as another person's, left "
            "out (facerec audit lists them)"
        )
    return text


def verdict(match: Any, classifier: Any) -> str:
    """`obama (d=0.53 <= 1.04, p=0.62)` or `unknown (nearest obama, d=1.12 > 1.04)`: the
    evidence that decided, so a user sees how near the call was."""
    limit = classifier.max_distance
    if match.name is not None:
        p = "" if match.probability is None else f", p={match.probability:.2f}"
        return f"{match.name} (d={match.distance:.2f} <= {limit:.2f}{p})"
    if match.distance > limit:
        why = f"d={match.distance:.2f} > {limit:.2f}"
    else:
        why = f"p={match.probability:.2f} < {classifier.min_probability:.2f}"
    return f"unknown (nearest {match.candidate}, {why})"


def faces_line(result: Any, classifier: Any) -> str:
    faces = ", ".join(verdict(f.match, classifier) for f in result.faces)
    return f"{result.path}: {faces or 'no face'}"
