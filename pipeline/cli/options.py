"""Options several commands share, and argparse types that refuse bad values in one line."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

from pipeline.registry import DETECTORS

DEFAULT_STORE = "output/embeddings.db"


def default_store() -> str:
    """The gallery: a SQLite file, or a postgresql:// URL (the postgres extra); FACEREC_STORE
    sets it for every command."""
    return os.environ.get("FACEREC_STORE") or DEFAULT_STORE


def store_option(p: argparse.ArgumentParser) -> None:
    """--store (alias --embeddings, -e): the gallery every command but recognize reads."""
    p.add_argument(
        "-e",
        "--store",
        "--embeddings",
        dest="store",
        default=default_store(),
        help="the embeddings database",
    )


DEFAULT_MODEL = "output/recognizer.skops"


def recognizer_option(
    p: argparse.ArgumentParser, help: str = "the recognizer file (train-model writes it)"
) -> None:
    """--model (alias --recognizer, -r): the recognizer file train-model writes."""
    p.add_argument("-r", "--model", "--recognizer", dest="model", default=DEFAULT_MODEL, help=help)


DEFAULT_OUTPUT = "output/recognized"


class HelpFormatter(argparse.HelpFormatter):
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


def basic_options(p: argparse.ArgumentParser) -> None:
    """Options every command has: output form, logging, the embedder (stores are per embedder)."""
    p.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print one JSON document on stdout (also accepted before the command)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    p.add_argument(
        "--embedder",
        choices=["sface", "facenet", "dlib"],
        help="embedding model (default: the one the store or recognizer file was "
        "made with; sface for a new one)",
    )


def model_options(p: argparse.ArgumentParser) -> None:
    """basic_options plus the options of commands that load the nets."""
    basic_options(p)
    p.add_argument("--models-dir", dest="models_dir", help="folder searched first for model files")
    p.add_argument(
        "--detector",
        choices=sorted(DETECTORS),
        help="face detector (default: the one the store or recognizer file was made "
        "with, else the embedder's own: yunet for sface and facenet, ssd for dlib)",
    )
    p.add_argument(
        "--backend",
        choices=["auto", "opencv", "openvino"],
        default="auto",
        help="runtime for the embedder: auto takes OpenVINO when installed "
        "(pip install '.[openvino]'), else OpenCV's cv2.dnn",
    )
    p.add_argument(
        "-c",
        "--confidence",
        type=PROBABILITY,
        help="minimum face detector score (default: the detector's own, "
        + ", ".join(f"{k} {v.confidence}" for k, v in DETECTORS.items())
        + ")",
    )


def format_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        choices=["table", "json", "jsonl", "csv"],
        default="table",
        help="table, one JSON document (= --json), or one line per face as it is "
        "done: jsonl or csv",
    )


def threshold_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-distance",
        type=DISTANCE,
        help="unknown when the face's distance to the person picked is above this "
        "(by the embedder's rule: SFace the nearer of the person's centre and "
        "nearest photo, FaceNet the centre; default: the recognizer file's)",
    )
    p.add_argument(
        "--min-probability", type=PROBABILITY, help="unknown when the SVM probability is below this"
    )


def number(low: float, high: float, what: str, integer: bool = False) -> Callable[[str], Any]:
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


def rate(text: str) -> float:
    """An argparse type: a share strictly between 0 and 1."""
    value = number(0.0, 1.0, "a share between 0 and 1, like 0.03")(text)
    if value in (0.0, 1.0):
        raise argparse.ArgumentTypeError(
            f"must be a share between 0 and 1, like 0.03, not {text!r}"
        )
    return float(value)


DISTANCE = number(0.0, 2.0, "a distance between 0 and 2")

PROBABILITY = number(0.0, 1.0, "a probability between 0 and 1")

COUNT = number(1, 10**9, "a whole number of at least 1", integer=True)


def classifier_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--classifier",
        choices=["auto", "svm", "nearest"],
        default="auto",
        help="svm, nearest person, or auto: svm up to 200 people (default)",
    )
    p.add_argument(
        "--far",
        type=rate,
        metavar="RATE",
        help="share of stand-in strangers (enrolled people left out) the calibrated "
        "max_distance may name (default: the embedder's, chosen on LFW: 0.0025 "
        "for sface, 0.03 for facenet)",
    )


def crop_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--crop",
        choices=["box", "detector", "align5"],
        help="how faces are cut for the embedder (default: the embedder's own)",
    )
    p.add_argument("--margin", type=float, help="margin around the box, a share of the crop side")


def keep_unknown_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--keep-unknown",
        nargs="?",
        const="output/strangers",
        metavar="DIR",
        help="keep a crop of every unknown face in DIR (default output/strangers), "
        "for `facerec cluster DIR` to find recurring strangers",
    )
