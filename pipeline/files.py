"""The one place that decides whether a path may be read (no OpenCV here: the model registry
and the command line use it before OpenCV is imported)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pipeline.errors import ImageError

MAX_FILE_BYTES = 200 * 1024 * 1024


def read_file(
    path: str | os.PathLike[str], limit: int = MAX_FILE_BYTES
) -> tuple[bytes, os.stat_result]:
    """The one place that decides whether a path may be read: a regular file (after links),
    at most `limit` bytes, opened without blocking. A FIFO, a device (`/dev/zero` behind a
    link) or a folder is refused at once instead of hanging or reading without end, and a
    file that grows while being read stops at the limit.

    Returns the bytes and the file's stat (size and mtime of what was read).

    Raises:
        ImageError: missing, not a regular file, too large, or unreadable.
    """
    p = Path(path)
    if "\0" in str(p):
        raise ImageError(f"{str(p)!r}: a path cannot hold a NUL byte")
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError as err:
        raise ImageError(f"{p}: no such file") from err
    except OSError as err:
        raise ImageError(f"{p}: cannot read ({err.strerror or err})") from err
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{p}: not a regular file")
        if st.st_size > limit:
            raise ImageError(f"{p}: {st.st_size} bytes is larger than the {limit} byte limit")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as err:
        raise ImageError(f"{p}: cannot read ({err.strerror or err})") from err
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ImageError(f"{p}: larger than the {limit} byte limit")
    return data, st
