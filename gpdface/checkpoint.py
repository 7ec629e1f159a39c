"""Reading ``.pt``/``.pth`` files: ``torch.load(weights_only=True)`` only, its failures one line."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from .errors import WeightsError

_ESCAPES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def load_checkpoint(path: str | Path, what: str = "checkpoint", allow: Iterable[type] = ()) -> dict[str, Any]:
    """The dict saved at ``path``, unpickling nothing but tensors, plain containers and the ``allow`` classes.

    Raises:
        WeightsError: the file is missing, damaged, not a torch file, or pickles anything else; one line, with
            torch's multi-line explanation (and its terminal colour codes) cut to its first line.
    """
    try:
        # torch warns on stderr about pickle protocols of foreign files: the error below says all there is
        with warnings.catch_warnings(), torch.serialization.safe_globals(list(allow)):
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = _ESCAPES.sub("", str(exc)).strip().splitlines()
        reason = first[0][:200] if first else type(exc).__name__
        raise WeightsError(f"cannot read the {what} {path}: {reason}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"cannot read the {what} {path}: it holds a {type(state).__name__}, not a dict of tensors")
    return state
