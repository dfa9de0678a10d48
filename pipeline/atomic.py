"""Atomic, durable file writes: write beside the target, flush to disk, rename over it, flush
the folder. A crash at any point leaves either the old file or the new one, never half of one.

The one place that decides whether a path may be written: a regular file or nothing. A device,
FIFO, folder or symbolic link at the target is refused (as root, `--model /dev/null` would
otherwise replace the system's /dev/null with a file). New files get the user's umask
(0644 under umask 022), not the 0600 of a temporary file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pipeline.errors import FaceRecError


def check_writable(target: Path) -> None:
    """Refuse a target that exists and is not a plain regular file.

    Raises:
        FaceRecError: the target is a symbolic link, a device, a FIFO, a socket or a folder.
    """
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise FaceRecError(
            f"{target}: a symbolic link; refusing to replace it (give the real path)"
        )
    if not stat.S_ISREG(mode):
        raise FaceRecError(
            f"{target}: not a regular file (a device, FIFO or folder); refusing to replace it"
        )


def _umask() -> int:
    try:  # Linux: read it without changing it (os.umask would, briefly, for every thread)
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_folder(folder: Path) -> None:
    """Make a folder's entries (a new, renamed or deleted file) durable."""
    with contextlib.suppress(OSError):  # not every system can open a folder (Windows)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _cannot_write(dest: Path, err: OSError) -> FaceRecError:
    where = (
        ""
        if err.filename in (None, str(dest)) or ".tmp" in str(err.filename)
        else (f" ({err.filename})")
    )
    return FaceRecError(f"{dest}: cannot write{where}: {err.strerror or err}; nothing was replaced")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside `target` (same suffix); on success rename it onto `target`.

    On an exception the temporary file is removed and `target` is left as it was.

    Raises:
        FaceRecError: `target` exists and is not a regular file (check_writable).
    """
    dest = Path(target)
    check_writable(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{dest.stem}.", suffix=f".tmp{dest.suffix}", dir=dest.parent
        )
    except OSError as err:
        raise _cannot_write(dest, err) from err
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
            check_writable(dest)  # still nothing foreign there
            os.replace(tmp, dest)
        except OSError as err:
            if err.filename not in (None, str(tmp), tmp):
                raise  # about another file: its own message names it
            raise _cannot_write(dest, err) from err
        fsync_folder(dest.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> None:
    """Atomically replace `target` with `data`."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
