"""The `facerec` command's entry point: Ctrl-C before the command line is ready is one line too.

Importing the command line (NumPy, OpenCV, scikit-learn) takes about a second; a Ctrl-C in that
time used to end in a 17-28 line traceback. This module imports nothing heavy itself.
"""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from .cli import main as run

        return run()
    except KeyboardInterrupt:  # before cli.main could handle it (it does once a command runs)
        print("interrupted before anything was done", file=sys.stderr)
        return 130
