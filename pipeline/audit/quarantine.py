"""Moving flagged photos out of a dataset and back. The manifest (every move: from, to, its
sha256) is written and flushed before the first photo moves, so a move that stops half way
is still recorded and `restore` puts back whatever had moved."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.atomic import write_bytes
from pipeline.errors import FaceRecError

MANIFEST = "manifest.json"
FORMAT = "facerec-quarantine-1"


@dataclass(frozen=True, slots=True)
class Moved:
    """What a quarantine or a restore did."""

    manifest: str
    moved: tuple[str, ...]
    missing: tuple[str, ...] = ()  # in the manifest, but not where it should be (left alone)

    def to_dict(self) -> dict[str, Any]:
        return {"manifest": self.manifest, "moved": list(self.moved), "missing": list(self.missing)}


def quarantine(dataset: Path, photos: Sequence[str], folder: Path, why: dict[str, str]) -> Moved:
    """Move `photos` (dataset-relative paths) to `folder`, keeping their person/file layout,
    after writing the manifest there.

    Raises:
        FaceRecError: the folder holds an earlier quarantine, a path leaves the dataset, or a
            file cannot be moved (the manifest then still lists every planned move).
    """
    dataset, folder = dataset.resolve(), folder.resolve()
    if folder == dataset or dataset in folder.parents:
        raise FaceRecError(f"{folder}: inside the dataset; quarantine outside it")
    manifest = folder / MANIFEST
    if manifest.exists():
        raise FaceRecError(
            f"{manifest}: an earlier quarantine is there; restore it or pick another folder"
        )
    moves = []
    for relpath in photos:
        source = (dataset / relpath).resolve()
        if dataset not in source.parents or not source.is_file():
            raise FaceRecError(f"{relpath}: not a photo of {dataset}")
        moves.append({"photo": relpath, "sha256": _sha256(source), "why": why.get(relpath, "")})
    doc = {
        "format": FORMAT,
        "dataset": str(dataset),
        "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "moves": moves,
    }
    folder.mkdir(parents=True, exist_ok=True)
    write_bytes(manifest, json.dumps(doc, indent=1).encode())  # durable before anything moves
    done: list[str] = []
    for move in moves:
        target = folder / move["photo"]
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(dataset / move["photo"], target)
        except OSError as err:
            raise FaceRecError(
                f"{move['photo']}: cannot move it ({err.strerror}); {len(done)} moved so far, all "
                f"listed in {manifest}: `facerec audit --restore {manifest}` puts them back"
            ) from err
        done.append(move["photo"])
    return Moved(str(manifest), tuple(done))


def restore(manifest: Path) -> Moved:
    """Put back every photo a quarantine moved (those still in the quarantine folder, whose
    place in the dataset is free), then retire the manifest.

    Raises:
        FaceRecError: not a quarantine manifest, or a photo cannot be moved back.
    """
    try:
        doc = json.loads(Path(manifest).read_text())
        dataset, moves = Path(doc["dataset"]), doc["moves"]
        if doc.get("format") != FORMAT or not isinstance(moves, list):
            raise ValueError("another format")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise FaceRecError(f"{manifest}: not a facerec quarantine manifest ({err})") from err
    folder = Path(manifest).resolve().parent
    moved, missing = [], []
    for move in moves:
        relpath = str(move.get("photo", "")) if isinstance(move, dict) else ""
        source, target = (folder / relpath).resolve(), (dataset / relpath).resolve()
        if folder not in source.parents or dataset not in target.parents:
            raise FaceRecError(f"{manifest}: {relpath!r} leaves its folder; refused")
        if not source.is_file() or target.exists():
            missing.append(relpath)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.move(source, target)
        except OSError as err:
            raise FaceRecError(f"{relpath}: cannot move it back ({err.strerror})") from err
        moved.append(relpath)
    done = Path(manifest).with_name(f"{MANIFEST}.restored")
    os.replace(manifest, done)
    return Moved(str(done), tuple(moved), tuple(missing))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
