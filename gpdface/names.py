"""Names that become parts of file paths: style names above all.

A style's name comes from a file someone else may have written (``style.json`` of a copied folder) or from
the command line, and it ends up in paths: ``<photo>_<name>.jpg``, ``<name>.onnx``, the ONNX cache,
``$GPDFACE_HOME/styles/<name>``. One pattern decides what is allowed, checked where a name is read, so
every path is built from validated parts and no name can climb out of its folder.
"""

from __future__ import annotations

import re

from .errors import GpdfaceError, UsageError

MAX_NAME_LENGTH = 64
# A letter or digit first (no hidden files, nothing an option parser takes for a flag), then letters, digits,
# '_', '-' and '.' (no separators, no control characters, no spaces that a shell would split).
NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{MAX_NAME_LENGTH - 1}}}")
NAME_RULE = f"1–{MAX_NAME_LENGTH} letters, digits, '_', '-' or '.', starting with a letter or digit"


def shortened(text: str, limit: int = 300) -> str:
    """``text`` cut to ``limit`` characters (an error line shows untrusted text, never all of it)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(value: object, limit: int = 80) -> str:
    """``repr(value)``, shortened to ``limit`` characters."""
    return shortened(repr(value), limit)


def is_valid_name(name: object) -> bool:
    """Whether ``name`` may be used as a style name (and so as a part of a file name)."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None and ".." not in name


def check_name(name: object, what: str, error: type[GpdfaceError] = UsageError) -> str:
    """``name`` itself when it is valid.

    Raises:
        error: (``UsageError`` unless told) naming ``what`` the name is for, and the rule.
    """
    if not is_valid_name(name):
        raise error(f"{what} {quoted(name)} is not a usable name: use {NAME_RULE}")
    assert isinstance(name, str)
    return name


def name_from_folder(folder_name: str) -> str:
    """A valid name made from a folder's name: other characters become '_' (``my 5 images`` → ``my_5_images``).

    Raises:
        UsageError: nothing usable is left (e.g. ``...``).
    """
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", folder_name).lstrip("._-")[:MAX_NAME_LENGTH]
    name = re.sub(r"\.{2,}", ".", name)
    return check_name(name, f"the name made from the folder {quoted(folder_name)}")
