"""Exceptions raised by gpdface.

Every error carries the exit code the command line maps it to (the README's exit codes):
1 error, 2 usage, 3 no face found, 4 weights missing or corrupt.
Messages are one actionable line: what failed, what was expected, how to fix it.
"""

from __future__ import annotations


class GpdfaceError(Exception):
    """Base class of every error gpdface raises on purpose."""

    exit_code = 1


class InputError(GpdfaceError):
    """An input (image, folder, option value) cannot be used."""


class ShapeError(InputError, ValueError):
    """An array or tensor does not have the shape a function needs (also a ``ValueError``)."""


class OutputError(GpdfaceError, OSError):
    """An output cannot be written: a read-only folder, a full disk (also an ``OSError``)."""


class UsageError(GpdfaceError):
    """Options that contradict each other or a request the tool refuses (e.g. overwriting an input)."""

    exit_code = 2


class NoFaceError(GpdfaceError):
    """No face was detected in an image."""

    exit_code = 3


class StyleNotFoundError(GpdfaceError, LookupError):
    """A style name matches no directory, user style, embedded style or published style (also a ``LookupError``)."""

    exit_code = 2


class WeightsError(GpdfaceError):
    """Weights are missing, unreadable or do not match their manifest entry."""

    exit_code = 4


class ChecksumError(WeightsError, ValueError):
    """A file's sha256 differs from the one pinned in the manifest (also a ``ValueError``)."""

    CACHED = "the file is corrupt or was replaced — delete it and download again (gpdface download --force)"
    DOWNLOADED = (
        "the server sent other bytes than the manifest pins; they were not kept, and a cached copy is unchanged"
    )

    def __init__(self, path: str, expected: str, actual: str, remedy: str = CACHED) -> None:
        self.path, self.expected, self.actual = path, expected, actual
        super().__init__(f"checksum mismatch for {path}: expected sha256 {expected}, got {actual}; {remedy}")


class OfflineError(WeightsError, ConnectionError):
    """Weights are not cached and cannot be downloaded: offline, or the server is unreachable (also a
    ``ConnectionError``)."""


__all__ = [
    "ChecksumError",
    "GpdfaceError",
    "InputError",
    "NoFaceError",
    "OfflineError",
    "OutputError",
    "ShapeError",
    "StyleNotFoundError",
    "UsageError",
    "WeightsError",
]
