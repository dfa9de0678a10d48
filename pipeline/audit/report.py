"""The audit's HTML report: each finding's photos beside the typical faces of the people it
involves, in the cluster report's style (relative links, no script, nothing fetched)."""

from __future__ import annotations

import hashlib
import html
import shlex
from pathlib import Path

import numpy as np

from pipeline.atomic import write_bytes
from pipeline.audit.findings import ADVICE, KINDS, AuditReport, Finding
from pipeline.library.sheets import contact_sheet, link_to, write_png
from pipeline.stores.records import StoredFace
from pipeline.vectors import unit_rows

TYPICAL = 6  # faces shown for a person: the nearest to their centre
MOST = 40  # findings of one kind drawn; the JSON lists them all


def write_report(report: AuditReport, faces: list[StoredFace], out: Path) -> str:
    """Write index.html and its sheets into `out`; returns the index's path.

    Raises:
        FaceRecError: a file cannot be written.
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.png"):
        stale.unlink()
    root = Path(report.dataset)
    by_path = {f.relpath: f for f in faces if f.face == 0}
    typical = _typical(faces, set(report.flagged(KINDS)))
    drawn: set[str] = set()
    parts = [_head(report)]
    for kind in KINDS:
        found = report.of(kind)
        if not found:
            continue
        parts.append(
            f"<h2>{html.escape(kind.replace('_', ' '))}: {len(found)}</h2>"
            f"<p class=muted>{html.escape(ADVICE[kind])}</p>"
        )
        for n, finding in enumerate(found[:MOST]):
            name = f"{kind}-{n:03d}.png"
            shown = [by_path[p] for p in finding.photos if p in by_path]
            if shown:
                write_png(out / name, contact_sheet(shown, root))
            people = [p for p in (finding.person, finding.other) if p]
            for person in people:
                if person not in drawn and typical.get(person):
                    write_png(out / _typical_name(person), contact_sheet(typical[person], root))
                    drawn.add(person)
            parts.append(_section(finding, name if shown else None, people, root, out))
    parts.append("</body></html>")
    index = out / "index.html"
    write_bytes(index, "\n".join(parts).encode())
    return str(index)


def _typical(faces: list[StoredFace], flagged: set[str]) -> dict[str, list[StoredFace]]:
    """Each person's faces nearest to their centre, the flagged photos left out."""
    by_person: dict[str, list[StoredFace]] = {}
    for f in faces:
        if f.face == 0 and f.relpath not in flagged:
            by_person.setdefault(f.person, []).append(f)
    out = {}
    for person, members in by_person.items():
        vectors = np.stack([f.embedding for f in members])
        centre = unit_rows(vectors.mean(axis=0, keepdims=True))[0]
        order = np.argsort(-(vectors @ centre), kind="stable")[:TYPICAL]
        out[person] = [members[i] for i in order]
    return out


def _typical_name(person: str) -> str:
    """A file name per person: readable, and unique even for names that differ only in
    characters a file name cannot hold."""
    safe = "".join(c if c.isalnum() else "_" for c in person)[:40]
    return f"typical-{safe}-{hashlib.sha256(person.encode()).hexdigest()[:8]}.png"


def _head(report: AuditReport) -> str:
    counts = ", ".join(f"{len(report.of(k))} {k.replace('_', ' ')}" for k in KINDS if report.of(k))
    command = f"facerec audit --dataset {shlex.quote(report.dataset)}"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>facerec audit: {html.escape(report.dataset)}</title>"
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f6f6f7}"
        "section{background:#fff;border-radius:8px;padding:.6rem 1rem;margin:0 0 1rem;"
        "box-shadow:0 1px 3px #0002}img{max-width:100%;vertical-align:top}"
        "figure{display:inline-block;margin:0 1rem .5rem 0}figcaption{font-size:.8rem;color:#555}"
        "h2{font-size:1.1rem;margin-top:1.5rem}.muted{color:#777}</style></head><body>"
        f"<h1>Audit of {report.photos} photos of {report.people} people</h1>"
        f"<p class=muted>{html.escape(report.dataset)}: {html.escape(counts or 'nothing found')}. "
        f"Move the flagged photos out with <code>{html.escape(command)} --quarantine DIR</code>; "
        "put them back with <code>facerec audit --restore DIR/manifest.json</code>.</p>"
    )


def _section(finding: Finding, sheet: str | None, people: list[str], root: Path, out: Path) -> str:
    links = "".join(
        f"<li><a href='{link_to(root / p, out)}'>{html.escape(p)}</a>"
        + (" (flagged)" if p in finding.flagged else "")
        + "</li>"
        for p in finding.photos
    )
    figures = ""
    if sheet:
        figures += f"<figure><img src='{sheet}' alt='the photos'><figcaption>the photos</figcaption></figure>"
    for person in people:
        figures += (
            f"<figure><img src='{_typical_name(person)}' alt='typical {html.escape(person)}'>"
            f"<figcaption>typical {html.escape(person)}</figcaption></figure>"
        )
    return (
        f"<section data-kind='{finding.kind}'><p>{html.escape(finding.detail)}</p>{figures}"
        f"<ul>{links}</ul></section>"
    )
