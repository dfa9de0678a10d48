"""1:K identification by K-fold on a folder-per-person dataset, with strangers (open set)."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.model_selection import StratifiedKFold

from pipeline.core import FaceRecognizer
from pipeline.errors import DatasetError
from pipeline.evaluation import plots
from pipeline.evaluation.embedding import _no_progress, crop_name, embed_paths
from pipeline.evaluation.reports import IdentificationReport, PersonScore
from pipeline.imageio import list_images, scan_dataset
from pipeline.train import fit_classifier
from pipeline.types import (
    UNKNOWN,
    Embeddings,
    Match,
    Skip,
)

Progress = Callable[[Iterable[Any], int], Iterable[Any]]


def evaluate_identification(
    dataset: str | os.PathLike[str],
    recognizer: FaceRecognizer,
    folds: int,
    max_distance: float,
    min_probability: float,
    unknown: str | os.PathLike[str] | None = None,
    plot_dir: str | os.PathLike[str] | None = None,
    progress: Progress = _no_progress,
    calibrate: bool = True,
    method: str = "auto",
    far: float | None = None,
) -> IdentificationReport:
    """Stratified K-fold: train the real classifier on K-1 folds, name the faces of the K-th.

    People with a single usable image cannot be tested (no image would be left to train on);
    they are enrolled in every fold as distractors and listed in `enrolled_only`. Strangers
    (every face of every image under `unknown`) are spread over the folds, so each tested face
    is answered exactly once. `far` defaults to the embedder's calibration target, and the
    1:K rule is the embedder's own, as train-model would use them.

    Raises:
        DatasetError: fewer than 2 folds, or no person with at least 2 usable images.
    """
    if folds < 2:
        raise DatasetError(f"--folds must be at least 2, got {folds}")
    scan = scan_dataset(dataset)
    items = scan.items
    by_path, skipped = embed_paths(recognizer, [i.path for i in items], progress=progress)
    skipped += [Skip(q.relpath, q.reason) for q in scan.problems]
    names = [i.person for i in items if i.path in by_path]
    x = np.concatenate([by_path[i.path] for i in items if i.path in by_path]) if names else None
    counts = dict(sorted(Counter(names).items()))
    testable = np.array([counts[n] >= 2 for n in names], bool)
    if x is None or not testable.any():
        raise DatasetError(
            f"{dataset}: identification needs at least one person with 2 or more usable images"
        )
    strangers = _embed_strangers(recognizer, unknown, skipped, progress)
    k = min(folds, max(counts[n] for n in names if counts[n] >= 2))
    spec = recognizer.embedder.spec
    settings = FoldSettings(
        max_distance,
        min_probability,
        calibrate,
        method,
        spec.far if far is None else far,
        spec.rule,
    )
    truth, answers, used = _run_folds(x, names, testable, strangers, k, settings)
    report = _score(truth, answers, counts, skipped, k, used, recognizer.embedder.spec)
    if plot_dir is not None:
        report = _with_confusion(report, truth, answers, Path(plot_dir))
    return report


def _embed_strangers(
    recognizer: FaceRecognizer,
    unknown: str | os.PathLike[str] | None,
    skipped: list[Skip],
    progress: Progress,
) -> Embeddings:
    if unknown is None:
        return np.zeros((0, recognizer.embedder.spec.output_dim), np.float32)
    paths = list_images(unknown)
    if not paths:
        raise DatasetError(f"{unknown}: no images of strangers in this folder")
    found, lost = embed_paths(recognizer, paths, every_face=True, progress=progress)
    skipped += lost
    if not found:
        raise DatasetError(f"{unknown}: no face found in any of its images")
    return np.concatenate([found[p] for p in paths if p in found])


@dataclass(frozen=True, slots=True)
class FoldSettings:
    """How each fold's classifier is fitted: as train-model would, with these options."""

    max_distance: float
    min_probability: float
    calibrate: bool
    method: str
    far: float
    rule: str


def _run_folds(
    x: Embeddings,
    names: list[str],
    testable: NDArray[np.bool_],
    strangers: Embeddings,
    k: int,
    settings: FoldSettings,
) -> tuple[list[str], list[Match], list[tuple[float, float, str]]]:
    """(true label, answer) per tested face, strangers' true label being 'unknown', and the
    (max_distance, min_probability, mode) each fold's classifier used."""
    tested = np.flatnonzero(testable)
    labels = np.array(names)
    with warnings.catch_warnings():  # a person with fewer images than folds is expected here
        warnings.simplefilter("ignore", UserWarning)
        splits = list(
            StratifiedKFold(n_splits=k, shuffle=True, random_state=0).split(tested, labels[tested])
        )
    truth: list[str] = []
    answers: list[Match] = []
    used: list[tuple[float, float, str]] = []
    s = settings
    for fold, (_, test_part) in enumerate(splits):
        test = tested[test_part]
        train = np.setdiff1d(np.arange(len(names)), test)
        model = fit_classifier(
            x[train],
            list(labels[train]),
            s.max_distance,
            s.min_probability,
            calibrate=s.calibrate,
            method=s.method,
            far=s.far,
            rule=s.rule,
        )
        used.append((model.max_distance, model.min_probability, model.mode or ""))
        own_strangers = strangers[fold::k]
        answers += model.predict(np.concatenate([x[test], own_strangers]))
        truth += list(labels[test]) + [UNKNOWN] * len(own_strangers)
    return truth, answers, used


def detection_identification_rate(
    right: NDArray[np.bool_], known: NDArray[np.float64], strangers: NDArray[np.float64], far: float
) -> float:
    """Share of known faces named right (`right`: candidate correct) at the distance threshold
    that accepts at most `far` of the strangers (the open-set DIR at that FAR)."""
    ordered = np.sort(strangers)
    allowed = int(np.floor(far * len(ordered)))
    threshold = ordered[allowed] if allowed < len(ordered) else np.inf
    return float((right & (known < threshold)).mean())


def _score(
    truth: list[str],
    answers: list[Match],
    counts: dict[str, int],
    skipped: list[Skip],
    k: int,
    used: list[tuple[float, float, str]],
    spec: Any,
) -> IdentificationReport:
    said = [a.label for a in answers]
    t, s = np.array(truth), np.array(said)
    known = t != UNKNOWN
    n_strangers = int((~known).sum())
    right = np.array([a.candidate for a in answers]) == t
    distance = np.array([a.distance for a in answers], np.float64)
    dir_1 = None
    if n_strangers and known.any():
        dir_1 = detection_identification_rate(right[known], distance[known], distance[~known], 0.01)
    people = {}
    for name in sorted(set(t[known])):
        named = s == name
        people[name] = PersonScore(
            faces=int((t == name).sum()),
            precision=float((t[named] == name).mean()) if named.any() else None,
            recall=float((s[t == name] == name).mean()),
        )
    errors = tuple({"true": a, "recognized": b} for a, b in zip(truth, said, strict=True) if a != b)
    return IdentificationReport(
        faces=len(t),
        known_faces=int(known.sum()),
        unknown_faces=int((~known).sum()),
        folds=k,
        accuracy=float((t == s).mean()),
        known_accuracy=float((t[known] == s[known]).mean()),
        unknown_rejected=float((s[~known] == UNKNOWN).mean()) if n_strangers else None,
        people=people,
        enrolled_only=tuple(n for n, c in counts.items() if c < 2),
        skipped=tuple(skipped),
        fold_max_distance=tuple(m for m, _, _ in used),
        fold_min_probability=tuple(p for _, p, _ in used),
        embedder=spec.id,
        crop=crop_name(spec),
        errors=errors,
        mode="/".join(sorted({mode for _, _, mode in used})),
        rank1=float(right[known].mean()) if known.any() else None,
        dir_at_far_1e_2=dir_1,
    )


def _with_confusion(
    report: IdentificationReport, truth: list[str], answers: list[Match], plot_dir: Path
) -> IdentificationReport:
    """confusion.png: the full matrix for up to plots.MAX_GRID people; above that (a grid of
    hundreds is unreadable and its canvas grows with the square of the people), the most
    frequent mistakes as bars. Either way the picture's size is bounded."""
    import dataclasses

    from sklearn.metrics import confusion_matrix

    said = [a.label for a in answers]
    rows = sorted(set(truth) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in truth else [])
    title = f"{report.embedder}: {report.folds}-fold, known {report.known_accuracy:.1%}" + (
        "" if report.unknown_rejected is None else f", rejected {report.unknown_rejected:.1%}"
    )
    target = plot_dir / "confusion.png"
    if len(rows) > plots.MAX_GRID:
        mistakes = Counter((a, b) for a, b in zip(truth, said, strict=True) if a != b)
        path = plots.mistakes_png(mistakes.most_common(plots.MAX_BARS), len(truth), target, title)
        return dataclasses.replace(report, plots={"confusion": path})
    cols = sorted((set(truth) | set(said)) - {UNKNOWN}) + [UNKNOWN]
    labels = sorted(set(rows) | set(cols))
    full = confusion_matrix(truth, said, labels=labels)
    matrix = full[np.ix_([labels.index(r) for r in rows], [labels.index(c) for c in cols])]
    ylabels = [r if r != UNKNOWN else "(strangers)" for r in rows]
    path = plots.confusion_png(matrix, ylabels, cols, target, title)
    return dataclasses.replace(report, plots={"confusion": path})
