"""recognize-video: name faces in a video file, a camera or a stream."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.common import (
    load_recognizer,
    stranger_keeper,
)
from pipeline.cli.options import (
    COUNT,
    keep_unknown_option,
    model_options,
    number,
    recognizer_option,
    threshold_options,
)
from pipeline.cli.render import emit


def add(sub: Any) -> None:
    p = sub.add_parser("recognize-video", help="name faces in a video file, camera or stream")
    model_options(p)
    threshold_options(p)
    p.add_argument("-i", "--input", default="0", help="FILE, CAMERA_INDEX or URL")
    p.add_argument(
        "-o",
        "--output",
        help="annotated video: .webm (VP8, plays in browsers), .mp4 or .avi (default "
        "for files: output/<name>_recognized.webm)",
    )
    p.add_argument("--no-output", action="store_true", help="do not write a video")
    p.add_argument("--display", action="store_true", help="show a window (q quits)")
    p.add_argument("--max-frames", type=COUNT, help="stop after this many frames")
    p.add_argument(
        "--detect-every",
        type=number(1, 1000, "1 to 1000 frames", integer=True),
        default=3,
        metavar="N",
        help="detect faces every N frames and track them in between (default 3; "
        "1 = detect and embed every face of every frame)",
    )
    recognizer_option(p)
    keep_unknown_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pipeline.extras import install_hint
    from pipeline.video.audio import ffmpeg_exe
    from pipeline.video.stream import recognize_video

    output = args.output
    if output is None and not args.no_output and Path(args.input).is_file():
        output = str(Path("output") / f"{Path(args.input).stem}_recognized.webm")
    if args.no_output:
        output = None
    recognizer = load_recognizer(args, with_model=True)
    kept = stranger_keeper(args, 5.0)
    report = recognize_video(
        args.input, recognizer, output, args.display, args.max_frames, None, args.detect_every, kept
    )
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
    emit(args, doc, lines)
    if report.ended_by in ("interrupted", "terminated"):  # finished with what was seen
        print(f"{report.ended_by}: the video so far is written and reported above", file=sys.stderr)
        return 130 if report.ended_by == "interrupted" else 143
    return 0
