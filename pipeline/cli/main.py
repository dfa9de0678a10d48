"""Command line: argparse subcommands -> one step function each -> a table or one JSON document.

stdout carries results only (a table, or exactly one JSON document with --json); logs and
progress go to stderr. Exit codes: 0 done (skips are reported, not failures), 1 a FaceRecError
(one line), 2 usage, 130 Ctrl-C, 143 SIGTERM (handled like Ctrl-C), 141 the reader of stdout
went away (a closed pipe). Each command is a module of cli/commands with add() and run().
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Iterator

from pipeline.cli.commands import (
    audit,
    cluster,
    demo,
    detect,
    evaluate,
    evaluate_pairs,
    export,
    extract,
    find,
    migrate,
    recognize,
    serve,
    train,
    verify,
    video,
)
from pipeline.cli.options import HelpFormatter
from pipeline.cli.render import printable
from pipeline.errors import FaceRecError, Terminated
from pipeline.version import version

log = logging.getLogger("pipeline")

# In the order `facerec --help` lists them: the everyday steps first.
COMMANDS = (
    extract,
    audit,
    migrate,
    train,
    recognize,
    find,
    export,
    detect,
    video,
    verify,
    evaluate_pairs,
    evaluate,
    demo,
    cluster,
    serve,
)


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
        sub.add_parser, formatter_class=HelpFormatter
    )

    for command in COMMANDS:
        command.add(sub)
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


def _stopped(args: argparse.Namespace, how: str) -> str:
    """`interrupted` / `terminated`, with what the stopped command leaves behind (its KEPT)."""
    kept = getattr(args, "kept", None)
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
        print(printable(f"error: {err}"), file=sys.stderr)
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
