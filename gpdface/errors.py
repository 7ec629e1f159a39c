"""Exceptions raised by gpdface.

Every error carries the exit code the command line maps it to (the README's exit codes):
1 error, 2 usage, 3 no face found, 4 weights missing or corrupt.
Messages are one actionable line: what failed, what was expected, how to fix it.
"""

from __future__ import annotations

SWITCH = "{switch}"  # where a message names its remedy, an on/off option, each door in its own words


class GpdfaceError(Exception):
    """Base class of every error gpdface raises on purpose.

    A message whose remedy is an on/off option writes ``{switch}`` there and passes ``switch="aligned"``: the
    Python API then says ``aligned=True``, the command line (``for_command_line``) ``--aligned``.
    """

    exit_code = 1

    def __init__(self, message: str = "", *, switch: str | None = None) -> None:
        self.template, self.switch = message, switch
        super().__init__(message.replace(SWITCH, f"{switch}=True") if switch else message)

    def __reduce__(self):  # errors cross process boundaries (worker pools): rebuilt with what made them
        return _rebuild, (type(self), self.template, self.switch, self.__dict__)

    def for_command_line(self) -> str:
        """The message as the command line says it (its flag for the remedy)."""
        if self.switch is None:
            return str(self)
        return self.template.replace(SWITCH, "--" + self.switch.replace("_", "-"))


def _rebuild(cls: type[GpdfaceError], template: str, switch: str | None, state: dict) -> GpdfaceError:
    error = GpdfaceError.__new__(cls)
    GpdfaceError.__init__(error, template, switch=switch)
    error.__dict__.update(state)
    return error


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
