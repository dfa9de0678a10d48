"""The exception hierarchy: every error a user can cause is a FaceRecError the CLI reports in one line."""

from __future__ import annotations


class FaceRecError(Exception):
    """Base class; the CLI catches exactly this and prints `error: <message>`."""


class ModelError(FaceRecError):
    """A model file is missing, corrupt or cannot be loaded."""


class ModelNotFoundError(ModelError):
    """No copy of a model file was found in any of the searched places."""


class ModelChecksumError(ModelError):
    """A model file exists but its sha256 differs from the one we ship."""


class ImageError(FaceRecError):
    """An image file cannot be read (missing, unreadable, not an image, too large)."""


class DatasetError(FaceRecError):
    """The dataset cannot be used (missing, empty, fewer people than needed)."""


class StoreError(FaceRecError):
    """The embeddings database is corrupt, foreign, from another version, or locked."""


class IncompatibleModelError(FaceRecError):
    """A store or classifier was built with another embedder (id or dimension)."""


class NotTrainedError(FaceRecError):
    """Recognition was asked for without a trained classifier."""


class VideoError(FaceRecError):
    """A video source cannot be opened or an output video cannot be written."""


class NameTaken(FaceRecError):
    """A person's name that a file (not a person's folder) of the dataset already holds."""


class NoFaceError(FaceRecError):
    """An image where a face is required shows none; `which` names the image."""

    def __init__(self, message: str, which: str = "") -> None:
        super().__init__(message)
        self.which = which


class TooManyFaces(FaceRecError):
    """An image shows more faces than the caller allows (the server's --max-faces)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (systemd stop, docker stop, kill), raised where Ctrl-C would be, so the same
    cleanups run; the command line exits 143 for it, 130 for Ctrl-C."""
