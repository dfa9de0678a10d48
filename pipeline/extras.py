"""The optional extras: the modules each one brings, and the one line that says how to get it.

Every command that needs an extra asks here before importing anything of it, so a plain
`pip install .` gets one line naming the pip command, never an ImportError's traceback. Tests
hide each extra's modules in a child process and check that line, command by command
(tests/test_extras.py).
"""

from __future__ import annotations

import importlib.util

from pipeline.errors import FaceRecError

# extra -> the top-level modules it installs that the code imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("fastapi", "uvicorn", "multipart", "prometheus_client", "fastapi_offline"),
    "postgres": ("psycopg", "pgvector"),
    "ray": ("ray",),
    "dlib": ("dlib", "face_recognition_models"),
    "openvino": ("openvino",),
    "audio": ("imageio_ffmpeg",),
}


def install_hint(extra: str) -> str:
    return f"pip install '.[{extra}]' in the facerec folder (or pip install 'facerec-pipeline[{extra}]')"


def missing(extra: str) -> list[str]:
    """The extra's modules that cannot be imported here (found without importing them)."""
    out = []
    for module in EXTRAS[extra]:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken install, or a module hidden in sys.modules
            found = False
        if not found:
            out.append(module)
    return out


def installed(extra: str) -> bool:
    return not missing(extra)


def require(extra: str, what: str) -> None:
    """Raise the one-line error when `extra` is not installed.

    Raises:
        FaceRecError: `what` needs the extra, and which modules are missing.
    """
    absent = missing(extra)
    if absent:
        raise FaceRecError(
            f"{what} needs the {extra} extra ({', '.join(absent)} not installed): "
            f"{install_hint(extra)}"
        )
