"""Keep a video's sound: OpenCV writes pictures only, so the input's audio is copied into the
annotated video by FFmpeg when an FFmpeg binary is at hand (the `.[audio]` extra installs one,
PyPI imageio-ffmpeg; else an `ffmpeg` on PATH). Without one, the video stays silent."""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)
AUDIO_EXTRA = ".[audio]"


def ffmpeg_exe() -> str | None:
    """The FFmpeg binary to use, or None."""
    if importlib.util.find_spec("imageio_ffmpeg") is not None:
        import imageio_ffmpeg

        try:
            return str(imageio_ffmpeg.get_ffmpeg_exe())
        except RuntimeError as err:  # the package without its binary
            log.debug("imageio-ffmpeg has no binary: %s", err)
    return shutil.which("ffmpeg")


def video_delay(exe: str, source: str) -> float:
    """Seconds from the file's start to its first picture. OpenCV numbers frames from 0, so
    the sound must skip this much to stay in sync (the Hamilton clip: audio starts 0.008 s,
    pictures 0.852 s). 0 when FFmpeg does not say."""
    try:
        done = subprocess.run(
            [exe, "-nostdin", "-hide_banner", "-i", source],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return 0.0
    file_start = re.search(r"Duration: .*?start: (-?\d+\.\d+)", done.stderr)
    video_start = re.search(r"Stream #0:\d+.*?: Video: .*?start (-?\d+\.\d+)", done.stderr)
    if not file_start or not video_start:
        return 0.0
    return max(0.0, float(video_start.group(1)) - float(file_start.group(1)))


def add_audio(video: Path, source: str, out: Path, timeout: float = 600.0) -> bool:
    """Write `video`'s pictures with `source`'s first audio stream into `out` (cut to the
    video's length; Opus in WebM, AAC otherwise). False, with `out` absent or unusable, when
    there is no FFmpeg, no audio in the source, or FFmpeg fails: the caller keeps `video`."""
    exe = ffmpeg_exe()
    if exe is None:
        return False
    codec = "libopus" if out.suffix.lower() == ".webm" else "aac"
    delay = f"{video_delay(exe, source):.6f}"
    command = [
        exe,
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-i",
        str(video),
        "-ss",
        delay,
        "-i",
        source,
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "copy",
        "-c:a",
        codec,
        "-shortest",
        str(out),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        log.warning("the video stays silent: FFmpeg did not run (%s)", err)
        return False
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        if "matches no streams" not in reason:  # a source without sound is not a problem
            log.warning("the video stays silent: FFmpeg could not add the sound (%s)", reason)
        return False
    return out.is_file() and out.stat().st_size > 0
