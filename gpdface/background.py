"""How a style renders the photo around the faces, so that a style which changes the colour domain still gives
one coherent picture.

A style's ``style.json`` declares its ``background``:

- ``keep``: the photo itself; pixels outside every face's mask are identical to the input (colour styles).
- ``grey``: the photo in grey.
- ``pencil``: a classical pencil drawing of the photo — a colour dodge of the grey photo by its blurred
  negative (dark where the photo has edges, paper-white where it is flat), times a soft shading from the
  blurred grey (so dark hair and clothes stay dark), through a tone curve. The blur scale and the shading
  are given relative to the face, and the tone curve is fitted to the style's training sketches
  (``gpdface.train.student.background_fit``), so that the drawing around the faces matches the student's.
- ``student``: the student itself run on the whole photo, resized so that the faces are at the scale it was
  trained on.
- ``paper``: a white page: only the drawn heads remain, as in avatar and line-art exemplars, which draw a
  head on a blank ground (a student run on a whole photo turns its textures into streaks of ink).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from . import formats
from .errors import WeightsError
from .options import BACKGROUND_MODES
from .shapes import check_shape

PAPER = 255
LUMA = np.array(formats.LUMA, np.float32)


@dataclass(frozen=True)
class Background:
    """A style's background policy.

    Attributes:
        mode: one of ``BACKGROUND_MODES``.
        blur: ``pencil``: σ of the dodge and shading blurs, as a share of the largest face's eye distance.
        shading: ``pencil``: exponent of the blurred-grey shading (0: pure dodge, line-like).
        tone: ``pencil``: 256-entry tone curve (uint8 values) applied last; identity when empty.
    """

    mode: str = "keep"
    blur: float = 0.1
    shading: float = 0.5
    tone: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in BACKGROUND_MODES:
            raise ValueError(f"background mode must be one of {', '.join(BACKGROUND_MODES)}, got {self.mode!r}")
        if self.tone and (len(self.tone) != 256 or min(self.tone) < 0 or max(self.tone) > 255):
            raise ValueError("background tone must be 256 values in 0–255")
        if not (math.isfinite(self.blur) and math.isfinite(self.shading)) or self.blur <= 0 or self.shading < 0:
            raise ValueError("background blur must be a finite number > 0 and shading a finite number ≥ 0")

    def to_dict(self) -> dict[str, Any]:
        if self.mode != "pencil":
            return {"mode": self.mode}
        return {"mode": self.mode, "blur": self.blur, "shading": self.shading, "tone": list(self.tone)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> Background:
        """Parse ``style.json``'s ``background`` (a mode name or an object).

        Raises:
            WeightsError: the entry is malformed (``where`` names the file).
        """
        if isinstance(data, str):
            data = {"mode": data}
        if not isinstance(data, dict):
            raise WeightsError(f"{where}: background must be a mode name or an object")
        try:
            return cls(
                mode=str(data.get("mode", "keep")),
                blur=float(data.get("blur", cls.blur)),
                shading=float(data.get("shading", cls.shading)),
                tone=tuple(int(v) for v in data.get("tone", ())),
            )
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"{where}: {exc}") from None


def grey(image: np.ndarray) -> np.ndarray:
    """``H W 3`` uint8 → ``H W`` float32 luma in [0, 1] (ITU-R 601)."""
    check_shape(image, "H W 3", "image")
    return (image.astype(np.float32) @ LUMA) / 255.0


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; wide ones on a smaller copy (the same to the eye, far cheaper on a 24 MP photo)."""
    factor = max(1.0, sigma / 4.0)
    if factor <= 1.5:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    height, width = image.shape[:2]
    size = (max(1, round(width / factor)), max(1, round(height / factor)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def pencil_strength(luma: np.ndarray, sigma: float, shading: float) -> np.ndarray:
    """The pencil drawing before its tone curve: ``H W`` float32 in [0, 1] from ``H W`` luma in [0, 1]."""
    # in-place steps: on a 1024² photo the temporaries cost as much as the arithmetic
    paper = np.subtract(1.0, _blur(1.0 - luma, sigma), dtype=np.float32)  # 1 − blurred negative
    dodge = np.divide(luma, np.maximum(paper, 1e-3, out=paper), out=paper)
    np.clip(dodge, 0.0, 1.0, out=dodge)
    if shading > 0:
        shade = np.clip(_blur(luma, sigma), 0.0, 1.0)
        dodge *= np.power(shade, shading, out=shade)
    return dodge


def apply_tone(values: np.ndarray, tone: tuple[int, ...]) -> np.ndarray:
    """``[0, 1]`` floats → uint8 through a 256-entry tone curve (identity when empty)."""
    scaled = np.multiply(values, 255.0, dtype=np.float32)
    codes = np.clip(np.rint(scaled, out=scaled), 0, 255, out=scaled).astype(np.uint8)
    return cv2.LUT(codes, np.asarray(tone, np.uint8)) if tone else codes


def pencil_drawing(image: np.ndarray, eye_distance: float, background: Background) -> np.ndarray:
    """The ``pencil`` rendering of an ``H W 3`` uint8 photo whose faces have ``eye_distance`` px between
    the eyes; grey, returned as ``H W 3`` uint8."""
    sigma = max(0.5, background.blur * eye_distance)
    drawn = apply_tone(pencil_strength(grey(image), sigma, background.shading), background.tone)
    return cv2.cvtColor(drawn, cv2.COLOR_GRAY2RGB)


def render_background(
    image: np.ndarray,
    background: Background,
    eye_distance: float,
    student: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """The photo as the style renders it outside the faces (``H W 3`` uint8).

    Args:
        image: the photo.
        background: the style's policy.
        eye_distance: eye distance of the largest face, in photo pixels (sets the scale of the drawing).
        student: for ``student``: maps the whole photo to its stylization (``H W 3`` uint8 to the same).
    """
    if background.mode == "keep":
        return image
    if background.mode == "grey":
        return np.repeat(np.clip(np.rint(grey(image) * 255.0), 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if background.mode == "pencil":
        return pencil_drawing(image, eye_distance, background)
    if background.mode == "paper":
        return np.full_like(image, PAPER)
    if student is None:
        raise ValueError("the 'student' background needs the student")
    return student(image)
