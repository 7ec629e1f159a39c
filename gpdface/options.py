"""Every option a user can give gpdface, defined once as typed frozen records (no torch here).

``TranslateOptions`` is what ``gpdface translate``, the Python ``Translator``, the demo and the benchmarks
pass around; ``gpdface.recipe.FinetuneRecipe`` is its counterpart for making a style. Each value is
checked once, in ``__post_init__``; a bad one raises ``OptionError`` (exit 2) naming the option, which the
command line shows as its flag (``--max-faces``) and the Python API as its argument (``max_faces``), so the
same mistake gets the same code and the same words whichever door it came in by.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields
from typing import Any, Literal, get_args

from .errors import UsageError

OutputMode = Literal["paste", "crop", "both"]
BackgroundMode = Literal["keep", "grey", "pencil", "student", "paper"]
Backend = Literal["torch", "onnxruntime"]
OUTPUT_MODES: tuple[str, ...] = get_args(OutputMode)
BACKGROUND_MODES: tuple[str, ...] = get_args(BackgroundMode)
BACKENDS: tuple[str, ...] = get_args(Backend)
DEFAULT_DETECTOR = "retinaface_mobile0.25"
DEFAULT_MAX_PIXELS = 150_000_000  # a 24-megapixel photo passes with room to spare; a decompression bomb does not
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")
# Videos: the whole frame is searched for faces every N frames, near each face in between (benchmarks/video.py).
DETECT_EVERY = 10


class OptionError(UsageError, ValueError):
    """An option's value cannot be used (also a ``ValueError``). ``option`` is its name as a Python argument
    (``max_faces``); ``flag`` its name on the command line (``--max-faces``)."""

    def __init__(self, option: str, problem: str) -> None:
        self.option, self.problem = option, problem
        super().__init__(f"{option} {problem}")

    @property
    def flag(self) -> str:
        return "--" + self.option.replace("_", "-")

    def for_command_line(self) -> str:
        """The message with the option named as the command line's flag."""
        return f"{self.flag} {self.problem}"


def one_of(option: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(option, f"must be one of {', '.join(choices)}, not {value!r}")


def at_least(option: str, value: Any, low: float, integer: bool = True) -> None:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        raise OptionError(option, f"must be {'a whole number' if integer else 'a number'}, not {value!r}")
    if value < low:
        raise OptionError(option, f"must be at least {low:g}, not {value:g}")


def check_device(value: Any) -> None:
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        raise OptionError("device", f"must be auto, cpu, cuda or cuda:N, not {value!r}")


@dataclass(frozen=True)
class TranslateOptions:
    """How photos are translated (everything but the style itself).

    Attributes:
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``.
        output: what is written: ``paste`` (the photo), ``crop`` (aligned crops) or ``both``; the style's
            choice when None.
        background: how the photo around the faces is rendered; the style's choice when None.
        max_faces: at most this many faces per image, largest first (None: all).
        batch_size: face crops per forward pass.
        threshold: minimum detector confidence.
        min_face: minimum face box side in photo pixels.
        scan_face: detection is first sized for faces this large (px); smaller ones are looked for only when
            none is found. None (0 on the command line): every image searched at full detail.
        detector: the face detector (the one with pinned weights).
        backend: the student's runtime: ``torch`` or ``onnxruntime``.
        max_pixels: larger images are refused (decompression-bomb guard).
    """

    device: str = "auto"
    output: OutputMode | None = None
    background: BackgroundMode | None = None
    max_faces: int | None = None
    batch_size: int = 8
    threshold: float = 0.8
    min_face: float = 16.0
    scan_face: float | None = 40.0
    detector: str = DEFAULT_DETECTOR
    backend: Backend = "torch"
    max_pixels: int = DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        check_device(self.device)
        if self.output is not None:
            one_of("output", self.output, OUTPUT_MODES)
        if self.background is not None:
            one_of("background", self.background, BACKGROUND_MODES)
        if self.max_faces is not None:
            at_least("max_faces", self.max_faces, 1)
        at_least("batch_size", self.batch_size, 1)
        at_least("threshold", self.threshold, 0, integer=False)
        if self.threshold > 1:
            raise OptionError("threshold", f"must be a confidence in 0–1, not {self.threshold!r}")
        at_least("min_face", self.min_face, 0, integer=False)
        if self.scan_face is not None and not (
            isinstance(self.scan_face, (int, float)) and math.isfinite(self.scan_face) and self.scan_face > 0
        ):
            raise OptionError("scan_face", f"must be 0 (full detail) or a size in pixels, not {self.scan_face:g}")
        one_of("detector", self.detector, (DEFAULT_DETECTOR,))
        one_of("backend", self.backend, BACKENDS)
        at_least("max_pixels", self.max_pixels, 1)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class VideoOptions:
    """What a run does with videos: the part to translate, how often whole frames are searched for faces."""

    start: float = 0.0
    duration: float | None = None
    detect_every: int = DETECT_EVERY

    def __post_init__(self) -> None:
        at_least("start", self.start, 0, integer=False)
        if self.duration is not None:
            at_least("duration", self.duration, 0, integer=False)
        at_least("detect_every", self.detect_every, 1)

    @property
    def cuts(self) -> bool:
        return bool(self.start) or self.duration is not None
