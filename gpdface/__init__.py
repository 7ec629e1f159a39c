"""gpdface: few-shot face image translation by GAN Prior Distillation.

Public API::

    from gpdface import Translator, list_styles, load_style
    Translator("sketch")("photo.jpg").save("photo_sketch.jpg")

Importing this package is cheap: torch, facexlib, typer and the training code load only when a name
that needs them is first used (PEP 562 lazy attributes), so ``gpdface --help`` answers at once.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    ChecksumError,
    GpdfaceError,
    InputError,
    NoFaceError,
    OfflineError,
    OutputError,
    StyleNotFoundError,
    UsageError,
    WeightsError,
)

__version__ = "0.1.0"

_LAZY = {
    "Translator": "gpdface.translator",
    "TranslationResult": "gpdface.translator",
    "FaceRecord": "gpdface.translator",
    "list_styles": "gpdface.style",
    "load_style": "gpdface.style",
}

if TYPE_CHECKING:
    from .style import list_styles, load_style
    from .translator import FaceRecord, TranslationResult, Translator


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gpdface' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ChecksumError",
    "FaceRecord",
    "GpdfaceError",
    "InputError",
    "NoFaceError",
    "OfflineError",
    "OutputError",
    "StyleNotFoundError",
    "TranslationResult",
    "Translator",
    "UsageError",
    "WeightsError",
    "__version__",
    "list_styles",
    "load_style",
]
