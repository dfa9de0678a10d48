"""recognize_images: name every face in a list of images, writing annotated copies."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2

from pipeline.atomic import write_bytes
from pipeline.core import FaceRecognizer, opencv_failure
from pipeline.draw import annotate, draw_detections
from pipeline.errors import FaceRecError, ImageError
from pipeline.imageio import list_images, read_image
from pipeline.library.strangers import StrangerKeeper
from pipeline.types import DetectResult, Image, ImageResult, Skip


def list_inputs(
    targets: Sequence[str | os.PathLike[str]],
    *outputs: str | os.PathLike[str] | None,
) -> list[tuple[Path, Path]]:
    """(image, where its annotated copy goes relative to --output) for files and folders mixed.

    One folder keeps its layout; with several targets each folder's images go under the
    folder's name, and single files under their own name. A name already taken gets `-2`,
    `-3` ... before its suffix, so no annotated copy overwrites another. Images inside the
    `outputs` folders (annotated copies or kept strangers of an earlier run, when they lie
    inside a target) are not inputs.

    Raises:
        ImageError: a target does not exist, or there is no image in any of them (nothing to
            do is an error a script can see).
    """
    items: list[tuple[Path, Path]] = []
    for target in targets:
        t = Path(target)
        if t.is_dir():
            prefix = Path() if len(targets) == 1 else Path(t.resolve().name)
            items += [(p, prefix / p.relative_to(t)) for p in list_images(t)]
        else:
            items += [(p, Path(p.name)) for p in list_images(t)]
    for output in (o for o in outputs if o is not None):
        out = os.path.abspath(output).rstrip(os.sep) + os.sep
        items = [(p, r) for p, r in items if not os.path.abspath(p).startswith(out)]
    if not items:
        where = ", ".join(str(t) for t in targets)
        raise ImageError(f"{where}: no images there (.jpg, .jpeg, .png, .bmp, .webp)")
    taken: set[Path] = set()
    unique: list[tuple[Path, Path]] = []
    for path, relative in items:
        candidate, n = relative, 1
        while candidate in taken:
            n += 1
            candidate = relative.with_name(f"{relative.stem}-{n}{relative.suffix}")
        taken.add(candidate)
        unique.append((path, candidate))
    return unique


def output_path(image: Path, relative: Path, output_dir: Path) -> Path:
    """Where the annotated copy of `image` goes: `relative` under `output_dir`.

    Raises:
        FaceRecError: that would overwrite the input image itself.
    """
    target = output_dir / relative
    if target.resolve() == image.resolve():
        raise FaceRecError(
            f"{target}: writing there would overwrite the input; choose another --output"
        )
    return target


def recognize_images(
    inputs: Sequence[tuple[Path, Path]],
    recognizer: FaceRecognizer,
    output_dir: str | os.PathLike[str] | None = None,
    strangers: StrangerKeeper | None = None,
) -> Iterator[ImageResult | Skip]:
    """Yield an ImageResult per readable image and a Skip per unreadable one.

    `inputs` are (image, relative output path) pairs, as list_inputs makes them. With
    `output_dir`, an annotated copy of each image is written there (atomically). With
    `strangers`, the unknown faces are kept, dated by the photo's modification time.
    """
    out_dir = Path(output_dir) if output_dir is not None else None
    for path, relative in inputs:
        try:
            image = read_image(path)
        except ImageError as err:
            yield Skip(str(path), str(err).split(": ", 1)[-1])
            continue
        try:
            faces = tuple(recognizer.recognize(image))
        except (cv2.error, MemoryError) as err:
            yield Skip(str(path), opencv_failure(err))
            continue
        written = None
        if out_dir is not None:
            written = write_annotated(path, relative, out_dir, annotate(image, faces))
        if strangers is not None:
            strangers.keep(image, faces, path.stat().st_mtime, str(path))
        yield ImageResult(str(path), faces, written)


def detect_images(
    inputs: Sequence[tuple[Path, Path]],
    recognizer: FaceRecognizer,
    output_dir: str | os.PathLike[str] | None = None,
) -> Iterator[DetectResult | Skip]:
    """Like recognize_images, without a recognizer file: the faces of each image (boxes,
    scores, landmarks), a drawn copy under `output_dir` if given, and a Skip per unreadable
    image or one OpenCV fails on."""
    out_dir = Path(output_dir) if output_dir is not None else None
    for path, relative in inputs:
        try:
            image = read_image(path)
            found = tuple(recognizer.find_faces(image))
        except ImageError as err:
            yield Skip(str(path), str(err).split(": ", 1)[-1])
            continue
        except (cv2.error, MemoryError) as err:
            yield Skip(str(path), opencv_failure(err))
            continue
        written = None
        if out_dir is not None:
            written = write_annotated(path, relative, out_dir, draw_detections(image, found))
        yield DetectResult(str(path), found, written)


def write_annotated(image_path: Path, relative: Path, output_dir: Path, drawn: Image) -> str:
    """Write a drawn copy of `image_path` at `relative` under `output_dir`, in the input's
    format, atomically; returns where.

    Raises:
        FaceRecError: that would overwrite the input, or OpenCV cannot encode the format.
    """
    target = output_path(image_path, relative, output_dir)
    ok, encoded = cv2.imencode(target.suffix or ".jpg", drawn)
    if not ok:
        raise FaceRecError(f"{target}: OpenCV cannot encode this image format")
    write_bytes(target, encoded.tobytes())
    return str(target)
