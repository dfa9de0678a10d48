"""recognize_images: name every face in a list of images, writing annotated copies."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2

from .atomic import write_bytes
from .draw import annotate
from .errors import FaceRecError, ImageError
from .imageio import read_image
from .recognizer import FaceRecognizer
from .types import ImageResult, Skip


def output_path(image: Path, root: Path | None, output_dir: Path) -> Path:
    """Where the annotated copy of `image` goes: its path under `root`, moved to `output_dir`.

    Raises:
        FaceRecError: that would overwrite the input image itself.
    """
    relative = image.relative_to(root) if root is not None else Path(image.name)
    target = output_dir / relative
    if target.resolve() == image.resolve():
        raise FaceRecError(
            f"{target}: writing there would overwrite the input; choose another --output"
        )
    return target


def recognize_images(
    paths: Sequence[Path],
    recognizer: FaceRecognizer,
    output_dir: str | os.PathLike[str] | None = None,
    root: Path | None = None,
) -> Iterator[ImageResult | Skip]:
    """Yield an ImageResult per readable image and a Skip per unreadable one.

    With `output_dir`, an annotated copy of each image is written there (atomically), at the
    image's path relative to `root` (or its bare name).
    """
    out_dir = Path(output_dir) if output_dir is not None else None
    for path in paths:
        try:
            image = read_image(path)
        except ImageError as err:
            yield Skip(str(path), str(err).split(": ", 1)[-1])
            continue
        faces = tuple(recognizer.recognize(image))
        written = None
        if out_dir is not None:
            target = output_path(path, root, out_dir)
            ok, encoded = cv2.imencode(target.suffix or ".jpg", annotate(image, faces))
            if not ok:
                raise FaceRecError(f"{target}: OpenCV cannot encode this image format")
            write_bytes(target, encoded.tobytes())
            written = str(target)
        yield ImageResult(str(path), faces, written)
