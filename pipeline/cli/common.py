"""What several commands share: loading the models a gallery was made with, opening its store,
progress bars, and the rule that a single unreadable image is an error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import FaceRecError
from pipeline.stores import made_with, open_store

T = TypeVar("T")


def progress(desc: str) -> Callable[[Iterable[T], int], Iterable[T]]:
    """A tqdm wrapper on stderr; silent when stderr is not a terminal."""

    def wrap(items: Iterable[T], total: int) -> Iterable[T]:
        from tqdm import tqdm

        return tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr, disable=None)

    return wrap


def gallery_embedder(args: argparse.Namespace, store: str | None) -> Any:
    """The embedder spec for a command on a store: --embedder, else the store's, else the
    default for a new gallery."""
    from pipeline.registry import chosen_embedder, embedder_spec

    made = made_with(store) if store is not None else None
    name = chosen_embedder(args.embedder, made[0] if made else None)
    return embedder_spec(name, getattr(args, "crop", None), getattr(args, "margin", None))


def load_recognizer(args: argparse.Namespace, with_model: bool, store: str | None = None) -> Any:
    """The models a command needs. The embedder and the detector are the ones asked for, else
    the ones that made the recognizer file (with_model) or the store, else the defaults: a
    gallery keeps the models it was made with."""
    from pipeline.classify import IdentityClassifier
    from pipeline.core import FaceRecognizer
    from pipeline.registry import embedder_spec

    classifier = None
    made = made_with(store) if store is not None else None
    if with_model:
        wanted = embedder_spec(args.embedder).id if args.embedder else None
        classifier = IdentityClassifier.load(args.model, wanted)
        if getattr(args, "max_distance", None) is not None:
            classifier.max_distance = args.max_distance
        if getattr(args, "min_probability", None) is not None:
            classifier.min_probability = args.min_probability
        name = classifier.embedder_id
        spec = embedder_spec(name, getattr(args, "crop", None), getattr(args, "margin", None))
    else:
        spec = gallery_embedder(args, store)
    detector = args.detector or (made[1] if made else None)  # None: the classifier's, else own
    return FaceRecognizer.from_models_dir(
        args.models_dir, spec, args.confidence, classifier, detector, args.backend
    )


def open_gallery(path: str, recognizer: Any, all_faces: bool | None = None) -> Any:

    spec = recognizer.embedder.spec
    return open_store(
        path, spec.id, spec.output_dim, recognizer.detector.spec.id, all_faces=all_faces
    )


def stranger_keeper(args: argparse.Namespace, gap: float) -> Any:
    """A StrangerKeeper for --keep-unknown DIR, or None."""
    if not getattr(args, "keep_unknown", None):
        return None
    from pipeline.library.strangers import StrangerKeeper

    return StrangerKeeper(args.keep_unknown, gap)


def given(value: float | None, default: float) -> float:
    return default if value is None else value


def one_image_failed(targets: Sequence[str], skipped: Sequence[Any]) -> None:
    """A single image given alone that could not be read is an error (exit 1), not a skip."""
    if len(targets) == 1 and not Path(targets[0]).is_dir() and skipped:
        raise FaceRecError(f"{skipped[0].path}: {skipped[0].reason}")


def recognize_all(
    targets: Sequence[str], recognizer: Any, output: str | None, keeper: Any = None
) -> tuple[list[Any], list[Any]]:
    """(results, skipped) for every image of `targets`, annotated copies into `output` and
    unknown faces into the StrangerKeeper `keeper` when given; a lone unreadable image raises."""
    from pipeline.recognize import list_inputs, recognize_images
    from pipeline.types import Skip

    inputs = list_inputs(targets, output, keeper.folder if keeper is not None else None)
    results: list[Any] = []
    skipped: list[Any] = []
    for item in recognize_images(inputs, recognizer, output, keeper):
        (skipped if isinstance(item, Skip) else results).append(item)
    one_image_failed(targets, skipped)
    return results, skipped
