"""Real faults for the hostile-input tests: the CLI in a child process with a time bound, a memory
cap, a file-size cap, permissions that bind even root, and a small disk.

Each helper makes the fault for real (a tmpfs that fills up, a folder that cannot be read), so
a test fails if the code under test stops coping with it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIME_BOUND = 120  # seconds any one faulty run may take

# The CLI, reporting its own peak memory (KB) on stderr as its last line. VmHWM is this
# program's own high-water mark; ru_maxrss would include the forking parent's size (Linux keeps
# the larger across exec).
_MEASURED = (
    "import atexit, resource, sys\n"
    "def peak():\n"
    "    try:\n"
    "        with open('/proc/self/status') as f:\n"
    "            return next(int(l.split()[1]) for l in f if l.startswith('VmHWM:'))\n"
    "    except (OSError, StopIteration):\n"
    "        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "atexit.register(lambda: print('peak_kb', peak(), file=sys.stderr))\n"
    "from pipeline.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)

_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str
    peak_mb: float

    @property
    def err_lines(self) -> list[str]:
        """stderr without the peak-memory line."""
        return [line for line in self.err.splitlines() if not line.startswith("peak_kb ")]


def _drop_root_override() -> None:
    """As root, give up the right to ignore file permissions (for this child only), so a
    chmod 000 folder or a read-only folder binds as it would for any user."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def permissions_bind() -> bool:
    """True when a child can be made to obey file permissions (always, unless root without
    CAP_SETPCAP)."""
    probe = subprocess.run(
        [sys.executable, "-c", "pass"],
        preexec_fn=_drop_root_override,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def run_cli(
    argv: list[str],
    memory_cap: int | None = None,
    file_size_cap: int | None = None,
    obey_permissions: bool = False,
) -> Run:
    """The CLI in a child, ended within TIME_BOUND seconds (subprocess raises if not)."""

    def limits() -> None:
        if memory_cap is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
        if file_size_cap is not None:  # writes past it fail with EFBIG instead of a signal
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_size_cap, file_size_cap))
        if obey_permissions:
            _drop_root_override()

    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIME_BOUND,
        preexec_fn=limits,
    )
    peak = [line for line in done.stderr.splitlines() if line.startswith("peak_kb ")]
    peak_mb = int(peak[-1].split()[1]) / 1024 if peak else float("nan")
    return Run(done.returncode, done.stdout, done.stderr, peak_mb)


def start_cli(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *argv],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@contextlib.contextmanager
def small_disk(where: Path, kilobytes: int) -> Iterator[tuple[Path, int | None]]:
    """A folder on a disk of `kilobytes`: a tmpfs when this process may mount one, else an
    ordinary folder plus a file-size cap for the child (pass it as run_cli's file_size_cap).

    Yields (folder, file size cap or None).
    """
    where.mkdir(parents=True, exist_ok=True)
    mounted = False
    if sys.platform.startswith("linux") and os.geteuid() == 0:
        mounted = (
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={kilobytes}k", "tmpfs", str(where)],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
    try:
        yield where, None if mounted else kilobytes * 1024
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(where)], check=False)


def fill(folder: Path, cap: int | None) -> None:
    """Fill a small_disk to the last byte; skips the test where no tmpfs could be mounted."""
    if cap is not None:
        import pytest

        pytest.skip("no tmpfs can be mounted here, so no disk can be filled")
    with open(folder / "filler", "wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 4096)


def no_traceback(run: Run) -> bool:
    return "Traceback" not in run.err


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], seconds: float) -> None:
    """Poll `condition` until true; fail if the process ends or time runs out first."""
    import time

    deadline = time.monotonic() + seconds
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(
                f"the run ended first: {proc.stderr.read() if proc.stderr else ''}"
            )
        if time.monotonic() > deadline:
            raise AssertionError("the run never got there")
        time.sleep(0.05)


def jpeg_scan_bomb(width: int, height: int, scans: int) -> bytes:
    """A progressive JPEG of a grey width x height image with `scans` extra empty scans (10
    bytes each: an AC scan header and no data). libjpeg decodes every scan over the whole
    image, so 100,000 of them at 7000x7000 (a 1 MB file) would keep a decoder busy for
    minutes."""
    import cv2
    import numpy as np

    grey = np.full((height, width, 3), 128, np.uint8)
    ok, encoded = cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])
    assert ok
    data = encoded.tobytes()
    empty = bytes.fromhex("ffda0008010100010502")  # one component, coefficients 1-5, Al 2
    return data[:-2] + empty * scans + data[-2:]
