"""The `facerec` command's entry point: Ctrl-C before the command line is ready is one line too,
and a Ctrl-C always ends the process with exit code 130.

Importing the command line (NumPy, OpenCV, scikit-learn) takes about a second; a Ctrl-C in that
time used to end in a 17-28 line traceback. This module imports nothing heavy itself.
"""

from __future__ import annotations

import contextlib
import os
import sys

INTERRUPTED = 130


def _leave(code: int) -> None:
    """End the process with `code` now, output flushed. A Ctrl-C that lands inside code an
    extension module runs through PyRun_* (while a library is imported) marks the interpreter
    as stopped by an unhandled Ctrl-C even when it was handled, and the process then ends
    killed by SIGINT (-2) instead of with 130: half of the time at 0.2 s, measured. By then
    the command has closed what it opened, so nothing is lost by skipping the interpreter's
    own exit."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream
            stream.flush()
    os._exit(code)


def main() -> int:
    try:
        from pipeline.cli import main as run

        code = run()
    except KeyboardInterrupt:  # before cli.main could handle it (it does once a command runs)
        print("interrupted before anything was done", file=sys.stderr)
        code = INTERRUPTED
    if code == INTERRUPTED:
        _leave(code)
    return code
