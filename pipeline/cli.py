"""Command line: argparse subcommands -> one step function each -> a table or one JSON document.

stdout carries results only (a table, or exactly one JSON document with --json); logs and
progress go to stderr. Exit codes: 0 done (skips are reported, not failures), 1 a FaceRecError
(one line), 2 usage, 130 Ctrl-C, 143 SIGTERM (handled like Ctrl-C), 141 the reader of stdout went away (a closed pipe).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import logging
import math
import os
import signal
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pipeline.calibrate import MIN_IMPOSTORS, MIN_PEOPLE
from pipeline.errors import FaceRecError, Terminated
from pipeline.registry import DETECTORS
from pipeline.stores import made_with, open_existing, open_store
from pipeline.types import DETECTION_ROW, FACE_ROW, NEIGHBOUR_ROW
from pipeline.version import version

log = logging.getLogger("pipeline")
T = TypeVar("T")

DEFAULT_STORE = "output/embeddings.db"


def _default_store() -> str:
    """The gallery: a SQLite file, or a postgresql:// URL (the postgres extra); FACEREC_STORE
    sets it for every command."""
    return os.environ.get("FACEREC_STORE") or DEFAULT_STORE


# pipeline.cluster.METHODS, default first (not imported here: the CLI loads modules lazily)
_CLUSTER_METHODS = ("whispers+centres", "whispers", "average", "hdbscan", "dbscan")
DEFAULT_MODEL = "output/recognizer.skops"
DEFAULT_OUTPUT = "output/recognized"
_REPO_DIR = Path(__file__).resolve().parent.parent
_DEMO_DIR = Path(__file__).resolve().parent / "_demo"  # the demo's photos, in an installed wheel


def _progress(desc: str) -> Callable[[Iterable[T], int], Iterable[T]]:
    """A tqdm wrapper on stderr; silent when stderr is not a terminal."""

    def wrap(items: Iterable[T], total: int) -> Iterable[T]:
        from tqdm import tqdm

        return tqdm(items, total=total, desc=desc, unit="img", file=sys.stderr, disable=None)

    return wrap


def _finite(value: Any) -> Any:
    """The document with every NaN or infinity as null: strict JSON parsers reject those tokens."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _printable(line: str) -> str:
    """A text line with control characters shown as escapes: a file name holding a terminal
    escape sequence (\x1b[...) must not reach the terminal raw through a "skipped" line."""
    return "".join(repr(c)[1:-1] if unicodedata.category(c) == "Cc" else c for c in line)


def _emit(args: argparse.Namespace, doc: dict[str, Any], lines: Sequence[str]) -> None:
    try:
        if args.json:
            print(json.dumps(_finite(doc), indent=2, ensure_ascii=False, allow_nan=False))
        else:
            print("\n".join(_printable(line) for line in lines))
        sys.stdout.flush()  # a closed pipe shows up here, inside main's handlers
    except BrokenPipeError:
        raise
    except OSError as err:  # stdout redirected to a full disk
        raise FaceRecError(f"standard output: cannot write ({err.strerror or err})") from err


def _gallery_embedder(args: argparse.Namespace, store: str | None) -> Any:
    """The embedder spec for a command on a store: --embedder, else the store's, else the
    default for a new gallery."""
    from pipeline.registry import chosen_embedder, embedder_spec

    made = made_with(store) if store is not None else None
    name = chosen_embedder(args.embedder, made[0] if made else None)
    return embedder_spec(name, getattr(args, "crop", None), getattr(args, "margin", None))


def _recognizer(args: argparse.Namespace, with_model: bool, store: str | None = None) -> Any:
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
        spec = _gallery_embedder(args, store)
    detector = args.detector or (made[1] if made else None)  # None: the classifier's, else own
    return FaceRecognizer.from_models_dir(
        args.models_dir, spec, args.confidence, classifier, detector, args.backend
    )


def _open_store(path: str, recognizer: Any, all_faces: bool | None = None) -> Any:

    spec = recognizer.embedder.spec
    return open_store(
        path, spec.id, spec.output_dim, recognizer.detector.spec.id, all_faces=all_faces
    )


# -- handlers -----------------------------------------------------------------------------------


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.extract import extract_embeddings
    from pipeline.imageio import dataset_path

    recognizer = _recognizer(args, with_model=False, store=args.store)
    all_faces = True if args.all_faces else None  # None: the store's own way, new: main faces
    args.dataset = dataset_path(args.dataset)  # a URL it cannot read fails before Ray starts
    if args.ray is not None:
        from pipeline.extract_ray import start_ray

        started = start_ray(args.ray)  # before the store opens: a failure leaves nothing open
    try:
        with _open_store(args.store, recognizer, all_faces) as store:
            if args.ray is None:
                report = extract_embeddings(args.dataset, store, recognizer, _progress("embedding"))
            else:
                from pipeline.extract_ray import NetsRecipe, extract_embeddings_ray

                recipe = NetsRecipe.of(recognizer, args.models_dir, store.all_faces)
                report = extract_embeddings_ray(
                    args.dataset, store, recipe, args.ray_workers, _progress("embedding")
                )
            stored = store.stored_faces() if store.all_faces else None
    finally:
        if args.ray is not None and started:
            import ray

            ray.shutdown()
    lines = [
        f"{report.images} images: {report.embedded} embedded, {report.unchanged} unchanged, "
        f"{report.removed} removed, {len(report.skipped)} skipped",
        "people: " + ", ".join(f"{n} ({c})" for n, c in report.people.items()),
    ]
    if report.multi_face_images:
        lines.append(
            f"{report.multi_face_images} images showed several faces; the main one was used"
        )
    lines += [f"skipped {s.path}: {s.reason}" for s in report.skipped]
    lines += [
        f"warning: {p} has no usable image and will not be recognized"
        for p in report.people_without_faces
    ]
    lines += [
        f"warning: {s.path} looks like someone else than the other {s.person} images "
        f"(median distance {s.distance:.2f}); check the folder"
        for s in report.suspects
    ]
    lines.append(f"store: {args.store}" + (f" ({stored} faces, every face kept)" if stored else ""))
    doc = report.to_dict() | ({"faces_stored": stored} if stored is not None else {})
    _emit(args, doc, lines)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    from pipeline.migrate import migrate_gallery
    from pipeline.registry import DEFAULT_EMBEDDER

    args.embedder = args.embedder or DEFAULT_EMBEDDER  # where a gallery moves to
    recognizer = _recognizer(args, with_model=False)
    report = migrate_gallery(args.dataset, args.store, args.model, recognizer,
                             _progress("embedding"), args.classifier)  # fmt: skip
    if report.extract is None:
        lines = [f"{report.store} already holds {report.after} embeddings"]
    else:
        e = report.extract
        lines = [
            f"{report.store}: {report.before} -> {report.after}; {e.embedded} images embedded, "
            f"{len(e.skipped)} skipped",
            f"the old store is kept as {report.backup}",
        ]
    t = report.train
    lines.append(f"{t.path}: trained on {sum(t.people.values())} faces of {len(t.people)} people, "
                 f"max_distance {t.max_distance:.3f}")  # fmt: skip
    _emit(args, report.to_dict(), lines)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from pipeline.train import train_model

    spec = _gallery_embedder(args, args.store)
    with open_existing(args.store, spec.id, spec.output_dim) as store:
        report = train_model(
            store,
            args.model,
            _given(args.max_distance, spec.max_distance),
            _given(args.min_probability, spec.min_probability),
            calibrate=args.max_distance is None,
            method=args.classifier,
            far=_given(args.far, spec.far),
            rule=spec.rule,
        )
    lines = [
        f"trained a {report.mode} recognizer on {sum(report.people.values())} faces of "
        f"{len(report.people)} people: " + _some(list(report.people)),
        f"max_distance {report.max_distance:.3f} ({_calibration_text(report.calibration)}), "
        f"min_probability {report.min_probability:.3f}",
        *[f"note: {n}" for n in report.notes],
        f"saved: {report.path}",
    ]
    _emit(args, report.to_dict(), lines)
    return 0


def _some(names: list[str], shown: int = 12) -> str:
    """The names, or the first `shown` of them and how many more (a gallery may hold thousands)."""
    more = f", ... ({len(names) - shown} more)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _calibration_text(cal: dict[str, Any]) -> str:
    text = str(cal.get("source"))
    if cal.get("far_estimate") is None and cal.get("people", 0) >= 1:
        return (
            f"{text}; {cal.get('people')} people, {cal.get('impostors', 0)} faces: too few to "
            f"estimate what share of strangers would be named ({MIN_PEOPLE} people and "
            f"{MIN_IMPOSTORS} faces needed)"
        )
    if cal.get("far_estimate") is not None:
        text += (
            f"; {cal['people']} people: about {_pct(cal['far_estimate'])} of strangers "
            f"would be named, {_pct(cal.get('known_estimate'))} of enrolled faces accepted"
        )
    return text


def _verdict(match: Any, classifier: Any) -> str:
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


def _faces_line(result: Any, classifier: Any) -> str:
    faces = ", ".join(_verdict(f.match, classifier) for f in result.faces)
    return f"{result.path}: {faces or 'no face'}"


class _Rows:
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
            print(json.dumps(_finite(row), ensure_ascii=False, allow_nan=False))
        else:
            self._csv.writerow({k: "" if v is None else v for k, v in row.items()})
        sys.stdout.flush()


def _strangers(args: argparse.Namespace, gap: float) -> Any:
    """A StrangerKeeper for --keep-unknown DIR, or None."""
    if not getattr(args, "keep_unknown", None):
        return None
    from pipeline.library.strangers import StrangerKeeper

    return StrangerKeeper(args.keep_unknown, gap)


def _keep_unknown(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-unknown", nargs="?", const="output/strangers", metavar="DIR",
                   help="keep a crop of every unknown face in DIR (default output/strangers), "
                        "for `facerec cluster DIR` to find recurring strangers")  # fmt: skip


def _stream_recognize(args: argparse.Namespace, targets: Sequence[str], recognizer: Any) -> int:
    from pipeline.recognize import list_inputs, recognize_images
    from pipeline.types import Skip

    rows = _Rows(args.format, list(FACE_ROW))
    output = None if args.no_output else args.output
    skipped = []
    inputs = list_inputs(targets, output, getattr(args, "keep_unknown", None))
    for item in recognize_images(inputs, recognizer, output, _strangers(args, 0)):
        if isinstance(item, Skip):
            rows.write({"path": item.path, "error": item.reason})
            skipped.append(item)
            continue
        if not item.faces:
            rows.write({"path": item.path, "error": "no face"})
        for n, face in enumerate(item.faces):
            rows.write(face.row(item.path, n))
    _one_image_failed(targets, skipped)
    return 0


def run_recognize(
    args: argparse.Namespace, targets: Sequence[str], recognizer: Any = None
) -> tuple[list[Any], list[Any]]:
    from pipeline.recognize import list_inputs, recognize_images
    from pipeline.types import Skip

    output = None if args.no_output else args.output
    inputs = list_inputs(targets, output, getattr(args, "keep_unknown", None))
    recognizer = recognizer or _recognizer(args, with_model=True)
    results, skipped = [], []
    args.kept = _strangers(args, 0)
    for item in recognize_images(inputs, recognizer, output, args.kept):
        (skipped if isinstance(item, Skip) else results).append(item)
    _one_image_failed(targets, skipped)
    return results, skipped


def _one_image_failed(targets: Sequence[str], skipped: Sequence[Any]) -> None:
    """A single image given alone that could not be read is an error (exit 1), not a skip."""
    if len(targets) == 1 and not Path(targets[0]).is_dir() and skipped:
        raise FaceRecError(f"{skipped[0].path}: {skipped[0].reason}")


def cmd_recognize(args: argparse.Namespace) -> int:
    targets = list(args.targets) + ([args.image] if args.image else [])
    if not targets:
        raise FaceRecError("recognize needs an IMAGE or DIR (or --image PATH)")
    recognizer = _recognizer(args, with_model=True)
    if args.format in ("jsonl", "csv"):
        return _stream_recognize(args, targets, recognizer)
    results, skipped = run_recognize(args, targets, recognizer)
    classifier = recognizer.classifier
    doc = {
        "images": [r.to_dict() for r in results],
        "skipped": [s.to_dict() for s in skipped],
        "max_distance": round(classifier.max_distance, 4),
    }
    lines = [_faces_line(r, classifier) for r in results]
    lines += [f"skipped {s.path}: {s.reason}" for s in skipped]
    if not args.no_output and results:
        lines.append(f"annotated images: {args.output}")
    if args.kept is not None:
        doc["kept_unknown"] = args.kept.kept
        lines.append(f"{args.kept.kept} unknown faces kept in {args.kept.folder}")
    _emit(args, doc, lines)
    return 0


def cmd_find(args: argparse.Namespace) -> int:
    from pipeline.api import search_store
    from pipeline.imageio import read_image

    recognizer = _recognizer(args, with_model=False, store=args.store)
    found = search_store(recognizer, read_image(args.image), args.store, args.top_k)
    if args.format in ("jsonl", "csv"):
        rows = _Rows(args.format, list(NEIGHBOUR_ROW))
        for rank, n in enumerate(found, 1):
            rows.write(n.row(rank))
        return 0
    doc = {"image": args.image, "store": args.store, "neighbours": [n.to_dict() for n in found]}
    lines = [f"{i}. {n.person}  {n.path}  d={n.distance:.2f}" for i, n in enumerate(found, 1)]
    _emit(args, doc, lines or ["the store holds no embedded faces"])
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipeline.export import export_store

    spec = _gallery_embedder(args, args.store)
    with open_existing(args.store, spec.id, spec.output_dim) as store:
        written = export_store(store, Path(args.output))
    doc = {"faces": written.faces, "files": written.files, "embedder": spec.id,
           "detector": written.detector}  # fmt: skip
    lines = [f"{written.faces} faces exported: " + ", ".join(written.files)]
    _emit(args, doc, lines)
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    from pipeline.recognize import detect_images, list_inputs
    from pipeline.types import Skip

    recognizer = _recognizer(args, with_model=False)
    images, skipped, lines = [], [], []
    rows = _Rows(args.format, list(DETECTION_ROW)) if args.format in ("jsonl", "csv") else None
    output = None if args.no_output else args.output
    for item in detect_images(list_inputs(args.targets, output), recognizer, output):
        if isinstance(item, Skip):
            skipped.append(item.to_dict())
            if rows is not None:
                rows.write({"path": item.path, "error": item.reason})
            continue
        if rows is not None:
            for n, d in enumerate(item.faces):
                rows.write(d.row(item.path, n))
            if not item.faces:
                rows.write({"path": item.path, "error": "no face"})
        images.append(item.to_dict())
        lines.append(f"{item.path}: {len(item.faces)} faces" + "".join(
            f" {d.box_list()} {d.score:.2f};" for d in item.faces))  # fmt: skip
    lines += [f"skipped {s['path']}: {s['reason']}" for s in skipped]
    _one_image_failed(args.targets, [Skip(s["path"], s["reason"]) for s in skipped])
    if rows is None:
        _emit(args, {"images": images, "skipped": skipped,
                     "detector": recognizer.detector.spec.id}, lines)  # fmt: skip
    return 0


def cmd_video(args: argparse.Namespace) -> int:
    from pipeline.extras import install_hint
    from pipeline.video.audio import ffmpeg_exe
    from pipeline.video.stream import recognize_video

    output = args.output
    if output is None and not args.no_output and Path(args.input).is_file():
        output = str(Path("output") / f"{Path(args.input).stem}_recognized.webm")
    if args.no_output:
        output = None
    recognizer = _recognizer(args, with_model=True)
    kept = _strangers(args, 5.0)
    report = recognize_video(args.input, recognizer, output, args.display, args.max_frames,
                             None, args.detect_every, kept)  # fmt: skip
    names = ", ".join(f"{n} ({c})" for n, c in report.to_dict()["names"].items())
    lines = [
        f"{report.frames} frames ({report.ended_by}), {report.frames_with_faces} with faces, "
        f"{report.fps:.1f} frames/s, latency {report.latency_ms:.0f} ms "
        f"(p95 {report.latency_ms_p95:.0f}), detection every {report.detect_every} frames, "
        f"{report.faces_embedded} faces embedded"
        + (f", {report.dropped} frames dropped to stay live" if report.dropped else "")
        + (f", {report.damaged} damaged frames passed over" if report.damaged else ""),
        f"seen in frames: {names or 'nobody'}",
    ]
    if output:
        lines.append(f"annotated video: {output}")
        if not report.audio and Path(args.input).is_file() and ffmpeg_exe() is None:
            lines.append(f"no sound: OpenCV writes none; {install_hint('audio')} keeps the input's")
    doc = report.to_dict()
    if kept is not None:
        doc["kept_unknown"] = kept.kept
        lines.append(f"{kept.kept} unknown faces kept in {kept.folder}")
    _emit(args, doc, lines)
    if report.ended_by in ("interrupted", "terminated"):  # finished with what was seen
        print(f"{report.ended_by}: the video so far is written and reported above",
              file=sys.stderr)  # fmt: skip
        return 130 if report.ended_by == "interrupted" else 143
    return 0


def _given(value: float | None, default: float) -> float:
    return default if value is None else value


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def cmd_verify(args: argparse.Namespace) -> int:
    from pipeline.errors import NoFaceError
    from pipeline.imageio import read_image

    images = [read_image(args.image_a), read_image(args.image_b)]
    recognizer = _recognizer(args, with_model=False)
    threshold = _given(args.max_distance, recognizer.embedder.spec.verify_distance)
    try:
        result = recognizer.verify(*images, threshold)
    except NoFaceError as err:
        path = args.image_a if err.which == "first" else args.image_b
        raise FaceRecError(f"{path}: no face found") from err
    doc = {"image_a": args.image_a, "image_b": args.image_b, **result.to_dict()}
    verdict = "same person" if result.same else "different people"
    sign = "<=" if result.same else ">"
    lines = [f"{verdict} (distance {result.distance:.3f} {sign} threshold {threshold:.2f})"]
    for path, face, count in ((args.image_a, result.face_a, result.faces_a),
                              (args.image_b, result.face_b, result.faces_b)):  # fmt: skip
        if count > 1:
            lines.append(f"{path}: compared its main face {face.box_list()} (largest and nearest "
                         f"the centre), one of {count}")  # fmt: skip
    _emit(args, doc, lines)
    return 0


def cmd_evaluate_pairs(args: argparse.Namespace) -> int:
    from pipeline.evaluation.evaluate import evaluate_pairs
    from pipeline.evaluation.pairsfile import read_pairs

    pairs = read_pairs(args.pairs, args.root)
    recognizer = _recognizer(args, with_model=False)
    threshold = _given(args.max_distance, recognizer.embedder.spec.verify_distance)
    plot_dir = None if args.no_plots else args.output
    r = evaluate_pairs(pairs, recognizer, threshold, plot_dir, _progress("embedding"))
    lines = [
        f"{r.pairs} pairs ({r.same_pairs} same, {r.different_pairs} different), "
        f"{len(r.missing)} missing; embedder {r.embedder}, crop {r.crop}",
    ]
    if r.accuracy_10fold is not None:
        lines.append(
            f"LFW protocol (threshold chosen on the other folds): accuracy "
            f"{_pct(r.accuracy_10fold)} +- {_pct(r.accuracy_10fold_std)} "
            f"(mean chosen threshold {r.threshold_10fold:.3f})"
        )
    lines.append(
        f"at the default threshold {r.threshold:.2f}: accuracy {_pct(r.accuracy_at_default)}, "
        f"balanced {_pct(r.balanced_accuracy_at_default)} (same accepted "
        f"{_pct(r.tar_at_default)}, different accepted {_pct(r.far_at_default)})"
    )
    if r.auc is not None:
        lines.append(
            f"ROC AUC {r.auc:.4f}; same accepted {_pct(r.tar_at_far_1e_2)} at FAR 1e-2, "
            f"{_pct(r.tar_at_far_1e_3)} at FAR 1e-3; equal error rate {_pct(r.eer)}"
        )
    lines += [f"missing: {m.path_a} | {m.path_b}: {m.reason}" for m in r.missing]
    lines += [f"{name}: {path}" for name, path in r.plots.items()]
    _emit(args, r.to_dict(), lines)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from pipeline.evaluation.evaluate import evaluate_identification

    recognizer = _recognizer(args, with_model=False)
    spec = recognizer.embedder.spec
    r = evaluate_identification(
        args.dataset,
        recognizer,
        args.folds,
        _given(args.max_distance, spec.max_distance),
        _given(args.min_probability, spec.min_probability),
        args.unknown,
        None if args.no_plots else args.output,
        _progress("embedding"),
        calibrate=args.max_distance is None,
        method=args.classifier,
        far=args.far,
    )
    strangers = f" + {r.unknown_faces} stranger faces" if r.unknown_faces else ""
    lines = [
        f"{r.folds}-fold identification: {r.known_faces} faces of {len(r.people)} people"
        f"{strangers}; embedder {r.embedder}, crop {r.crop}, classifier {r.mode}",
        "max_distance per fold: " + ", ".join(f"{t:.3f}" for t in r.fold_max_distance),
        f"accuracy {_pct(r.accuracy)}: known people named right {_pct(r.known_accuracy)}"
        + (
            "" if r.unknown_rejected is None else f", strangers rejected {_pct(r.unknown_rejected)}"
        ),
        f"rank-1 {_pct(r.rank1)}"
        + ("" if r.dir_at_far_1e_2 is None else f"; DIR at FAR 1%: {_pct(r.dir_at_far_1e_2)}"),
        "person: faces, precision, recall",
        *[f"  {n}: {s.faces}, {_pct(s.precision)}, {_pct(s.recall)}" for n, s in r.people.items()],
    ]
    if r.enrolled_only:
        lines.append(f"enrolled but not tested (one image): {', '.join(r.enrolled_only)}")
    mistakes = Counter((e["true"], e["recognized"]) for e in r.errors)
    lines += [f"mistake: {a} recognized as {b} ({n}x)" for (a, b), n in mistakes.most_common()]
    lines += [f"skipped {s.path}: {s.reason}" for s in r.skipped]
    lines += [f"{name}: {path}" for name, path in r.plots.items()]
    _emit(args, r.to_dict(), lines)
    return 0


def _bundled(path: str) -> str:
    """A demo path as given if it exists, else the same folder of the source checkout, else
    the copy installed with the package (facerec demo anywhere after pip install)."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return str(p)
    for base in (_REPO_DIR, _DEMO_DIR):
        if (base / p).exists():
            return str(base / p)
    raise FaceRecError(f"{path}: no such folder here, in a clone or installed with facerec")


def cmd_demo(args: argparse.Namespace) -> int:
    from pipeline.classify import IdentityClassifier
    from pipeline.extract import extract_embeddings
    from pipeline.train import train_model

    dataset, examples = _bundled(args.dataset), _bundled(args.examples)
    output = args.output or "output/demo"
    recognizer = _recognizer(args, with_model=False, store=args.store)  # loaded once
    spec = recognizer.embedder.spec
    with _open_store(args.store, recognizer) as store:
        extract = extract_embeddings(dataset, store, recognizer, _progress("embedding"))
        train = train_model(store, args.model, spec.max_distance, spec.min_probability,
                            far=spec.far, rule=spec.rule)  # fmt: skip
    recognizer.classifier = IdentityClassifier.load(args.model, spec.id)
    where = argparse.Namespace(output=output, no_output=False)
    results, skipped = run_recognize(where, [examples], recognizer)
    doc = {
        "extract": extract.to_dict(),
        "train": train.to_dict(),
        "recognize": {
            "images": [r.to_dict() for r in results],
            "skipped": [s.to_dict() for s in skipped],
        },
    }
    lines = [
        f"1. extract-embeddings: {extract.embedded} embedded, {extract.unchanged} unchanged, "
        f"{len(extract.skipped)} skipped ({dataset})",
        f"2. train-model: {train.mode} on {len(train.people)} people: {', '.join(train.people)}",
        f"3. recognize ({examples}):",
        *[
            f"   {Path(r.path).name}: " + (", ".join(f.match.label for f in r.faces) or "no face")
            for r in results
        ],
        f"annotated images: {output}",
    ]
    _emit(args, doc, lines)
    return 0


def _group_name(text: str) -> tuple[int, str]:
    """An argparse type: GROUP=name, the name usable as a dataset folder."""
    from pipeline.extract import name_problem

    gid, sep, name = text.partition("=")
    name = name.strip()
    if not sep or not gid.strip().isdigit() or not name:
        raise argparse.ArgumentTypeError(f"expected GROUP=name, like 3=ada, not {text!r}")
    if any(c in name for c in "/\\") or name.startswith(".") or name_problem(name):
        raise argparse.ArgumentTypeError(f"{name!r} cannot be a person's folder name")
    return int(gid), name


def _group_ids(text: str) -> list[int]:
    """An argparse type: KEEP,OTHER[,OTHER...] group ids."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected group ids like 3,7, not {text!r}")
    return [int(p) for p in parts]


def cmd_cluster(args: argparse.Namespace) -> int:
    from pipeline.library.groups import edit_groups, group_library, load_library, name_group
    from pipeline.library.sheets import write_report

    recognizer = _recognizer(args, with_model=False, store=args.store)
    cut = args.cut if args.cut is not None else recognizer.embedder.spec.cluster_distance
    with _open_store(args.store, recognizer, all_faces=True) as store:
        library = group_library(args.photos, store, recognizer, cut, args.method,
                                args.recluster, _progress("embedding"))  # fmt: skip
        changes, extract = library.changes, library.extract
        if args.merge or args.remove:
            edit_groups(store, args.merge or (), args.remove or ())
            library = load_library(args.photos, store)
        named = {}
        if args.name:
            spec = recognizer.embedder.spec
            with open_store(args.gallery, spec.id, spec.output_dim,
                                recognizer.detector.spec.id) as gallery:  # fmt: skip
                for gid, name in args.name:
                    named[gid] = (name, name_group(library, store, gid, name, recognizer,
                                                   gallery, Path(args.dataset)))  # fmt: skip
            library = load_library(args.photos, store)
    library = type(library)(library.root, library.groups, library.singletons, changes, extract)
    written = write_report(library, Path(args.output))
    doc = library.to_dict() | {"cut": cut, "method": args.method, "index": written["index"]}
    doc["named"] = {str(g): {"name": n, "enrolled": k} for g, (n, k) in named.items()}
    lines = []
    if extract is not None:
        lines.append(f"{extract.images} photos: {extract.embedded} embedded, "
                     f"{extract.unchanged} unchanged, {len(extract.skipped)} skipped")  # fmt: skip
    faces = sum(len(g.faces) for g in library.groups) + len(library.singletons)
    lines.append(f"{faces} faces: {len(library.groups)} groups, {len(library.singletons)} alone "
                 f"(cut {cut:g}, {args.method})")  # fmt: skip
    c = changes
    for what, ids in (("created", c.created), ("grew", list(c.grew)), ("merged", list(c.merged)),
                      ("split", list(c.split)), ("gone", c.gone)):  # fmt: skip
        if ids:
            lines.append(f"{what}: " + ", ".join(str(i) for i in ids))
    for g in library.groups:
        label = f" {g.name}" if g.name else ""
        when = f", {g.when(library.sightings)}" if g.seen() else ""
        lines.append(f"  group {g.id}{label}: {len(g.faces)} faces in "
                     f"{len({f.relpath for f in g.faces})} photos, spread {g.spread:.2f}{when}")  # fmt: skip
    for gid, (name, count) in named.items():
        lines.append(f"named group {gid} {name}: {count} faces enrolled into "
                     f"{Path(args.dataset) / name}; run train-model to recognize them")  # fmt: skip
    lines.append(f"index: {written['index']}")
    _emit(args, doc, lines)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from pipeline.extras import require

    require("serve", "facerec serve")  # before anything imports fastapi
    from pipeline.server.jobs import Limits
    from pipeline.server.run import build_service, close, dataset_path, key_setup, page_url, run
    from pipeline.server.workers import default_workers

    setup = key_setup(args.api_key, args.read_key, args.open_reads)
    limits = Limits(
        upload_bytes=int(args.max_upload_mb * (1 << 20)),
        faces=args.max_faces,
        rate=args.rate,
        burst=max(1, int(2 * args.rate)),
        body_seconds=args.body_seconds,
    )
    service, report = build_service(
        lambda: _recognizer(args, with_model=False, store=args.store),
        dataset_path(args.dataset), args.store, args.model, setup.keys, limits,
        args.workers or default_workers(), args.debounce, _progress("embedding"),
    )  # fmt: skip
    snap, trained = service.gallery.snapshot, service.gallery.trained
    state = "up to date" if service.gallery.up_to_date() else "refitting now"
    url = page_url(args.host, args.port)
    lines = [
        f"gallery: {len(snap.faces)} faces of {len(snap.people)} people ({report.embedded} "
        f"embedded now, {len(report.skipped)} skipped); recognizer {trained.version} ({state})",
        f"serving {url} with {service.pool.size} workers; API docs at {url}docs",
    ]
    if setup.generated:
        lines.append(f"API key for this run (set FACEREC_API_KEY to choose one): open "
                     f"{url}#key={setup.generated}")  # fmt: skip
    print("\n".join(lines), file=sys.stderr, flush=True)
    try:
        run(service, args.host, args.port, args.access_log, args.trusted_proxies)
    except Terminated:  # SIGTERM after uvicorn's own shutdown: a normal stop for a server
        pass
    finally:
        close(service)
    return 0


# -- parser ---------------------------------------------------------------------------------------


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default, unless it has none or says it already."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or action.default in (None, False, argparse.SUPPRESS)
            or isinstance(action, argparse._StoreFalseAction)  # "(default: True)" reads as on
            or "default" in text
        ):
            return text
        return f"{text} (default: %(default)s)"


def _basic(p: argparse.ArgumentParser) -> None:
    """Options every command has: output form, logging, the embedder (stores are per embedder)."""
    p.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="print one JSON document on stdout (also accepted before the command)")  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    p.add_argument("--embedder", choices=["sface", "facenet", "dlib"],
                   help="embedding model (default: the one the store or recognizer file was "
                        "made with; sface for a new one)")  # fmt: skip


def _common(p: argparse.ArgumentParser) -> None:
    """_basic plus the options of commands that load the nets."""
    _basic(p)
    p.add_argument("--models-dir", dest="models_dir",
                   help="folder searched first for model files")  # fmt: skip
    p.add_argument("--detector", choices=sorted(DETECTORS),
                   help="face detector (default: the one the store or recognizer file was made "
                        "with, else the embedder's own: yunet for sface and facenet, ssd for dlib)")  # fmt: skip
    p.add_argument("--backend", choices=["auto", "opencv", "openvino"], default="auto",
                   help="runtime for the embedder: auto takes OpenVINO when installed "
                        "(pip install '.[openvino]'), else OpenCV's cv2.dnn")  # fmt: skip
    p.add_argument("-c", "--confidence", type=_PROBABILITY,
                   help="minimum face detector score (default: the detector's own, "
                        + ", ".join(f"{k} {v.confidence}" for k, v in DETECTORS.items()) + ")")  # fmt: skip


def _format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["table", "json", "jsonl", "csv"], default="table",
                   help="table, one JSON document (= --json), or one line per face as it is "
                        "done: jsonl or csv")  # fmt: skip


def _thresholds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-distance", type=_DISTANCE,
                   help="unknown when the face's distance to the person picked is above this "
                        "(by the embedder's rule: SFace the nearer of the person's centre and "
                        "nearest photo, FaceNet the centre; default: the recognizer file's)")  # fmt: skip
    p.add_argument("--min-probability", type=_PROBABILITY,
                   help="unknown when the SVM probability is below this")  # fmt: skip


def _number(low: float, high: float, what: str, integer: bool = False) -> Callable[[str], Any]:
    """An argparse type: a finite number in [low, high] (NaN and out-of-range values refused)."""

    def parse(text: str) -> Any:
        try:
            value: float = int(text) if integer else float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:  # False for NaN too
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}")
        return value

    return parse


def _rate(text: str) -> float:
    """An argparse type: a share strictly between 0 and 1."""
    value = _number(0.0, 1.0, "a share between 0 and 1, like 0.03")(text)
    if value in (0.0, 1.0):
        raise argparse.ArgumentTypeError(
            f"must be a share between 0 and 1, like 0.03, not {text!r}"
        )
    return float(value)


_DISTANCE = _number(0.0, 2.0, "a distance between 0 and 2")
_PROBABILITY = _number(0.0, 1.0, "a probability between 0 and 1")
_COUNT = _number(1, 10**9, "a whole number of at least 1", integer=True)


def _classifier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--classifier", choices=["auto", "svm", "nearest"], default="auto",
                   help="svm, nearest person, or auto: svm up to 200 people (default)")  # fmt: skip
    p.add_argument("--far", type=_rate, metavar="RATE",
                   help="share of stand-in strangers (enrolled people left out) the calibrated "
                        "max_distance may name (default: the embedder's, chosen on LFW: 0.0025 "
                        "for sface, 0.03 for facenet)")  # fmt: skip


def _crop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--crop", choices=["box", "detector", "align5"],
                   help="how faces are cut for the embedder (default: the embedder's own)")  # fmt: skip
    p.add_argument("--margin", type=float, help="margin around the box, a share of the crop side")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facerec",
        description="Offline face recognition: enrol a folder per person, then name faces in "
        "photos and videos. Each command has --help.",
    )
    parser.add_argument("--version", action="version", version=f"facerec {version()}")
    parser.add_argument("--json", action="store_true", help="print one JSON document on stdout")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(  # type: ignore[method-assign]
        sub.add_parser, formatter_class=_Help
    )

    p = sub.add_parser("extract-embeddings", help="embed the faces of a folder-per-person dataset")
    _common(p)
    p.add_argument("--all-faces", action="store_true",
                   help="keep every face of every image, not only the main one (photo "
                        "libraries; find and export see them all, training the main ones)")  # fmt: skip
    p.add_argument("-d", "--dataset", default="dataset", help="dataset/<person>/*.jpg")
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("--ray", metavar="auto|ADDRESS",
                   help="embed on a Ray cluster: auto joins the one on this machine (or "
                        "starts one), ADDRESS another (ray://head:10001); needs .[ray]")  # fmt: skip
    p.add_argument("--ray-workers", type=_COUNT, metavar="N",
                   help="Ray actors, each loading the nets once (default: one per CPU)")  # fmt: skip
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("migrate", help="move a gallery (store and recognizer file) to another "
                                       "embedder: re-embed the dataset, retrain, keep a backup")  # fmt: skip
    _common(p)
    p.add_argument("-d", "--dataset", default="dataset", help="the dataset the store was made from")
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file (trained again)")  # fmt: skip
    p.add_argument("--classifier", choices=["auto", "svm", "nearest"], default="auto",
                   help="svm, nearest person, or auto: svm up to 200 people")  # fmt: skip
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("train-model", help="train the SVM recognizer on the stored embeddings")
    _basic(p)
    _thresholds(p)
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file (train-model writes it)")  # fmt: skip
    _classifier_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("recognize", help="name the faces in an image or a folder of images")
    _common(p)
    _thresholds(p)
    p.add_argument("targets", nargs="*", metavar="IMAGE|DIR",
                   help="images and folders, as many as you like (a shell glob works)")  # fmt: skip
    p.add_argument("-i", "--image", help="one more IMAGE|DIR")
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file (train-model writes it)")  # fmt: skip
    p.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help="folder for annotated images")
    p.add_argument("--no-output", action="store_true", help="do not write annotated images")
    _keep_unknown(p)
    _format(p)
    p.set_defaults(func=cmd_recognize)

    p = sub.add_parser("find", help="the enrolled faces nearest to the face in a photo")
    _common(p)
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-k", "--top-k", type=_COUNT, default=5, help="how many (default 5)")
    _format(p)
    p.set_defaults(func=cmd_find)

    p = sub.add_parser("export", help="write the stored embeddings as .npy, CSV and JSON Lines")
    _basic(p)
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-o", "--output", default="output/export",
                   help="folder for embeddings.npy, faces.csv, faces.jsonl (default output/export)")  # fmt: skip
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("detect", help="find faces (boxes, landmarks, scores); no model needed")
    _common(p)
    p.add_argument("targets", nargs="+", metavar="IMAGE|DIR")
    p.add_argument("-o", "--output", default="output/detected", help="folder for annotated images")
    p.add_argument("--no-output", action="store_true", help="do not write annotated images")
    _format(p)
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("recognize-video", help="name faces in a video file, camera or stream")
    _common(p)
    _thresholds(p)
    p.add_argument("-i", "--input", default="0", help="FILE, CAMERA_INDEX or URL")
    p.add_argument("-o", "--output",
                   help="annotated video: .webm (VP8, plays in browsers), .mp4 or .avi (default "
                        "for files: output/<name>_recognized.webm)")  # fmt: skip
    p.add_argument("--no-output", action="store_true", help="do not write a video")
    p.add_argument("--display", action="store_true", help="show a window (q quits)")
    p.add_argument("--max-frames", type=_COUNT, help="stop after this many frames")
    p.add_argument("--detect-every", type=_number(1, 1000, "1 to 1000 frames", integer=True), default=3, metavar="N",
                   help="detect faces every N frames and track them in between (default 3; "
                   "1 = detect and embed every face of every frame)")  # fmt: skip
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file (train-model writes it)")  # fmt: skip
    _keep_unknown(p)
    p.set_defaults(func=cmd_video)

    p = sub.add_parser("verify", help="are two images the same person? (main face of each)")
    _common(p)
    _crop_options(p)
    p.add_argument("image_a", metavar="IMAGE_A")
    p.add_argument("image_b", metavar="IMAGE_B")
    p.add_argument("--max-distance", type=_DISTANCE, help="same person when distance <= this")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("evaluate-pairs", help="1:1 verification accuracy on a pairs file")
    _common(p)
    _crop_options(p)
    p.add_argument("pairs", metavar="PAIRS", help="CSV path_a,path_b,same or LFW pairs.txt")
    p.add_argument("--root", default=".", help="folder the paths in PAIRS are relative to")
    p.add_argument(
        "--max-distance",
        type=_DISTANCE,
        help="same person when distance <= this (default: the embedder's 1:1 threshold)",
    )
    p.add_argument("-o", "--output", default="output/evaluate-pairs", help="folder for the plots")
    p.add_argument("--no-plots", action="store_true", help="do not write PNG plots")
    p.set_defaults(func=cmd_evaluate_pairs)

    p = sub.add_parser("evaluate", help="1:K identification accuracy by K-fold on a dataset")
    _common(p)
    _crop_options(p)
    _thresholds(p)
    p.add_argument("dataset", metavar="DATASET", help="folder per person, as for extract")
    p.add_argument(
        "-k",
        "--folds",
        type=_number(2, 1000, "a whole number of folds, at least 2", integer=True),
        default=5,
        help="number of folds (default 5)",
    )
    p.add_argument("--unknown", metavar="DIR", help="images of people never enrolled")
    _classifier_options(p)
    p.add_argument("-o", "--output", default="output/evaluate", help="folder for the plot")
    p.add_argument("--no-plots", action="store_true", help="do not write the PNG plot")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="extract, train and recognize on the bundled sample")
    _common(p)
    p.add_argument("-d", "--dataset", default="dataset", help="dataset/<person>/*.jpg to enrol")
    p.add_argument("--examples", default="examples", help="images to name")
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file (train-model writes it)")  # fmt: skip
    p.add_argument("-o", "--output", default="output/demo", help="folder for annotated images")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("cluster", help="group the faces of unsorted photos into people")
    _common(p)
    p.add_argument("photos", metavar="PHOTOS_DIR", help="a folder of photos, any layout")
    p.add_argument("-e", "--store", "--embeddings", dest="store", default="output/library.db",
                   help="the library's own embeddings database (every face of every photo)")  # fmt: skip
    p.add_argument("-o", "--output", default="output/cluster",
                   help="folder for index.html and the contact sheets")  # fmt: skip
    p.add_argument("--cut", type=_DISTANCE,
                   help="distance cut (default: the embedder's, chosen on LFW: 0.975 for "
                        "sface, 0.85 for facenet)")  # fmt: skip
    p.add_argument("--method", choices=list(_CLUSTER_METHODS), default=_CLUSTER_METHODS[0],
                   help="clustering method (docs/design.md compares them)")  # fmt: skip
    p.add_argument("--recluster", action="store_true",
                   help="group every face afresh (ids kept by overlap) instead of adding new "
                        "faces to the groups")  # fmt: skip
    p.add_argument("--name", type=_group_name, action="append", metavar="GROUP=NAME",
                   help="enrol a group as a person: face crops into DATASET/NAME/ and the "
                        "gallery store (several allowed)")  # fmt: skip
    p.add_argument("--merge", type=_group_ids, action="append", metavar="KEEP,OTHER",
                   help="merge groups into the first one (several allowed)")  # fmt: skip
    p.add_argument("--remove", action="append", metavar="PHOTO#FACE",
                   help="take a face out of its group for good (ids as in --json)")  # fmt: skip
    p.add_argument("-d", "--dataset", default="dataset", help="where --name puts the crops")
    p.add_argument("--gallery", default=_default_store(),
                   help="the gallery store --name enrols into (train-model's --store)")  # fmt: skip
    p.set_defaults(func=cmd_cluster)

    p = sub.add_parser("serve", help="HTTP API and web page: recognize, enrol, learn as it runs")
    _common(p)
    p.add_argument("-d", "--dataset", default="dataset",
                   help="dataset/<person>/*.jpg: brought in step at start; enrolled photos go "
                        "there")  # fmt: skip
    p.add_argument("-e", "--store", "--embeddings", dest="store", default=_default_store(),
                   help="the embeddings database")  # fmt: skip
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL,
                   help="the recognizer file, refitted as people are enrolled")  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0: every interface; put TLS in front)")  # fmt: skip
    p.add_argument("--port", type=_number(1, 65535, "a port", integer=True), default=8000,
                   help="TCP port")  # fmt: skip
    p.add_argument("--api-key", dest="api_key",
                   help="key for every request (default: $FACEREC_API_KEY, else a new one is "
                        "printed); prefer the variable, options show in ps")  # fmt: skip
    p.add_argument("--read-key", dest="read_key",
                   help="key that may only read (default: $FACEREC_READ_KEY)")  # fmt: skip
    p.add_argument("--open-reads", action="store_true",
                   help="reads (recognize, find, lists) need no key; writes still do")  # fmt: skip
    p.add_argument("--workers", type=_number(1, 64, "a worker count", integer=True),
                   help="inference workers, each with its own nets (default: one per core)")  # fmt: skip
    p.add_argument("--max-upload-mb", type=_number(1, 1024, "megabytes"), default=20,
                   help="largest request body")  # fmt: skip
    p.add_argument("--max-faces", type=_number(1, 10000, "a face count", integer=True),
                   default=50, help="most faces per image")  # fmt: skip
    p.add_argument("--rate", type=_number(0, 1e6, "requests a second"), default=10,
                   help="requests a second per client address, bursts of twice that; 0: no limit")  # fmt: skip
    p.add_argument("--refit-after", dest="debounce", type=_number(0, 3600, "seconds"),
                   default=2.0, help="refit the recognizer once enrolments are quiet this long")  # fmt: skip
    p.add_argument("--no-access-log", dest="access_log", action="store_false",
                   help="do not log each request")  # fmt: skip
    p.add_argument("--body-timeout", dest="body_seconds", type=_number(1, 3600, "seconds"),
                   default=30.0, help="a request's body must arrive within this (else 408)")  # fmt: skip
    p.add_argument("--trusted-proxy", dest="trusted_proxies", action="append", metavar="ADDRESS",
                   help="a reverse proxy whose X-Forwarded-For names the client (repeatable); "
                        "without one, the header is ignored: any client could forge it")  # fmt: skip
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # bare `facerec`: what it can do
        parser.print_help()
        return 2
    args = parser.parse_args(argv)
    if getattr(args, "format", None) == "json":
        args.json = True
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:  # OpenCV's and FFmpeg's own logs would bury our one-line errors
        os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    try:
        import cv2  # noqa: F401  (a missing libGL shows up here, not as a traceback later)
    except ImportError as err:
        print(
            f"error: OpenCV cannot be imported ({err}); on a machine without a display install "
            "libGL (apt-get install libgl1) or see README 'OpenCV build'",
            file=sys.stderr,
        )
        return 1
    with _sigterm_as_interrupt():
        return _run(args)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C, so cleanups run (temporary files removed, the store closed,
    a video finished); the default action would end the process on the spot."""

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# What a stopped command leaves behind, said with "interrupted" / "terminated".
_KEPT = {
    "extract-embeddings": "every batch embedded so far is stored; run it again to resume",
    "cluster": "every photo embedded so far is stored; run it again to resume",
    "migrate": "the old gallery is untouched; run it again to resume",
    "demo": "what was embedded is stored; run it again to resume",
    "train-model": "the previous recognizer file is unchanged",
    "recognize": "the annotated images written so far are kept",
    "detect": "the annotated images written so far are kept",
}


def _stopped(args: argparse.Namespace, how: str) -> str:
    kept = _KEPT.get(getattr(args, "command", ""))
    return f"{how}: {kept}" if kept else how


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except Terminated:
        print(_stopped(args, "terminated"), file=sys.stderr)
        return 143
    except FaceRecError as err:
        if args.verbose:
            log.exception("failed")
        print(_printable(f"error: {err}"), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(_stopped(args, "interrupted"), file=sys.stderr)
        return 130
    except BrokenPipeError:  # `facerec ... --json | head`: the reader left; stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as err:  # a read-only or full disk, a file where a folder should be, ...
        if args.verbose:
            log.exception("failed")
        where = f"{err.filename}: " if err.filename else ""
        print(f"error: {where}{err.strerror or err}", file=sys.stderr)
        return 1
