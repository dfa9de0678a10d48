"""What a user looks at after `facerec cluster`: a contact sheet per group (PNG, the face crops
largest first) and an index.html showing every group with its sheet and photos, openable from
disk (relative links, no script, nothing fetched)."""

from __future__ import annotations

import html
import os
import shlex
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from pipeline.atomic import write_bytes
from pipeline.enrol import crop_around
from pipeline.errors import FaceRecError, ImageError
from pipeline.imageio import read_image
from pipeline.library.groups import Group, Library
from pipeline.stores.records import StoredFace
from pipeline.types import Image, face_id

TILE = 112
COLUMNS = 8
MOST = 64  # faces on one sheet; the JSON lists them all


def _crops(faces: list[StoredFace], root: Path) -> dict[str, Image]:
    """A square crop (1.5x the box) per face id, reading each photo once."""
    by_photo: dict[str, list[StoredFace]] = defaultdict(list)
    for f in faces:
        by_photo[f.relpath].append(f)
    out = {}
    for relpath, members in by_photo.items():
        try:
            image = read_image(root / relpath)
        except ImageError:
            continue  # gone or unreadable since it was embedded: the tile stays grey
        for f in members:
            if f.box:
                part = crop_around(image, np.asarray(f.box, np.float32), 1.5)
                if part.size:
                    out[face_id(f.relpath, f.face)] = cv2.resize(
                        part, (TILE, TILE), interpolation=cv2.INTER_AREA
                    )
    return out


def contact_sheet(faces: list[StoredFace], root: Path) -> Image:
    """The faces in a grid, in the order given, at most MOST of them."""
    shown = faces[:MOST]
    crops = _crops(shown, root)
    rows = (len(shown) + COLUMNS - 1) // COLUMNS
    cols = min(COLUMNS, len(shown))
    sheet = np.full((rows * TILE, cols * TILE, 3), 235, np.uint8)
    for n, f in enumerate(shown):
        r, c = divmod(n, COLUMNS)
        tile = crops.get(face_id(f.relpath, f.face))
        if tile is not None:
            sheet[r * TILE : (r + 1) * TILE, c * TILE : (c + 1) * TILE] = tile
    return sheet


def sheet_name(group: Group) -> str:
    return f"group-{group.id:04d}.png"


def write_report(library: Library, out: Path) -> dict[str, str]:
    """Write every group's sheet, the singletons' sheet and index.html into `out`; returns
    {what: path}.

    Raises:
        FaceRecError: a file cannot be written.
    """
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("group-*.png"):  # groups merged or gone since the last run
        stale.unlink()
    for group in library.groups:
        write_png(out / sheet_name(group), contact_sheet(list(group.faces), library.root))
    if library.singletons:
        write_png(out / "singletons.png", contact_sheet(list(library.singletons), library.root))
    index = out / "index.html"
    write_bytes(index, _index(library, out).encode())
    return {"index": str(index), "sheets": str(out)}


def write_png(path: Path, image: Image) -> None:
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise FaceRecError(f"{path}: OpenCV cannot encode the contact sheet")
    write_bytes(path, encoded.tobytes())


def link_to(photo: Path, out: Path) -> str:
    """A relative link from the index to the photo, so the folder can move as a whole."""
    rel = os.path.relpath(photo.resolve(), out.resolve())
    return html.escape(Path(rel).as_posix(), quote=True)


def _when(group: Group, sightings: bool) -> str:
    when = group.when(sightings)
    return f"; {html.escape(when)}" if when else ""


def _face_items(faces: Sequence[StoredFace], root: Path, out: Path) -> str:
    """One line per face: its id (what --remove takes) linking to its photo."""
    return "".join(
        f"<li><a href='{link_to(root / f.relpath, out)}'>{html.escape(face_id(f.relpath, f.face))}</a></li>"
        for f in faces
    )


def _index(library: Library, out: Path) -> str:
    command = f"facerec cluster {shlex.quote(str(library.root))}"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        f"<title>facerec cluster: {html.escape(str(library.root))}</title>",
        "<style>body{font-family:system-ui,sans-serif;margin:1.5rem;background:#f6f6f7}"
        "section{background:#fff;border-radius:8px;padding:.6rem 1rem;margin:0 0 1rem;"
        "box-shadow:0 1px 3px #0002}img{max-width:100%}h2{font-size:1.05rem}"
        "ul{columns:3;font-size:.85rem}.muted{color:#777}</style></head><body>",
        f"<h1>{len(library.groups)} groups, {len(library.singletons)} faces alone</h1>",
        f"<p class=muted>{html.escape(str(library.root))}. Name a group with "
        f"<code>{html.escape(command)} --name ID=name</code>; take a face out of its group "
        f"with <code>{html.escape(command)} --remove PHOTO#FACE</code>.</p>",
    ]
    for g in library.groups:
        title = f"Group {g.id}" + (f": {html.escape(g.name)}" if g.name else "")
        photos = sorted({f.relpath for f in g.faces})
        items = "".join(
            f"<li><a href='{link_to(library.root / p, out)}'>{html.escape(p)}</a></li>"
            for p in photos
        )
        parts.append(
            f"<section class=group id='group-{g.id}' data-group='{g.id}'><h2>{title}</h2>"
            f"<p class=muted>{len(g.faces)} faces in {len(photos)} photos; mean distance to "
            f"the group's centre {g.spread:.2f}{_when(g, library.sightings)}</p>"
            f"<img src='{sheet_name(g)}' alt='faces of group {g.id}'><ul>{items}</ul></section>"
        )
    if library.singletons:
        parts.append(
            f"<section id=singletons><h2>Alone ({len(library.singletons)} faces)</h2>"
            "<img src='singletons.png' alt='faces in no group'>"
            f"<ul>{_face_items(library.singletons, library.root, out)}</ul></section>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)
