"""The installed package's version, for --version, the API's schema and its metrics."""

from __future__ import annotations


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("facerec-pipeline")
    except PackageNotFoundError:
        return "(not installed)"
