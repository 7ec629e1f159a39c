"""A graphite tone under a drawing, for styles whose exemplars never show a dark face.

CUFS's artists draw every sitter's skin as white paper, its few brown-skinned sitters too, so a student
trained on it draws a dark-skinned face as light as a light-skinned one (docs/sketch.md, *Skin tone across
people*). A pencil portraitist would shade it. The tone layer does that after the student: each face
crop's grey is blurred, compared with the crop's own highlights (its 97th percentile, so that a dim photo
is not taken for dark skin), and where it is darker than ``knee`` times that reference the drawing is
multiplied by ``(ratio / knee) ** strength`` — a smooth shade under the strokes, nothing where the photo
is as light as lit light skin. It is declared in ``style.json`` (``tone_layer``) and applied by the
``Translator`` and by ``Style.drawer``, the network that evaluations and benchmarks run, so what they
measure is what ``translate`` draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .errors import WeightsError
from .filters import gaussian_taps
from .formats import LUMA
from .shapes import check_shape

REFERENCE_QUANTILE = 0.97  # the crop's highlights: eye whites, teeth, a collar, a lit background


@dataclass(frozen=True)
class ToneLayer:
    """How much a style shades a drawing where the photo is dark.

    Attributes:
        knee: share of the crop's highlight grey at and above which the drawing is left as it is.
        strength: exponent of the shade; 0 leaves every drawing as it is, 1 darkens it as much as the photo
            is darker than the knee.
        blur: σ of the photo's blur, as a share of the crop side (the shade follows tone, not detail).
        min_reference: the highlights are taken to be at least this light (grey in [0, 1]): a crop with
            nothing lighter (a dark face before a dark background) is not all put down to dim light.
    """

    knee: float = 0.75
    strength: float = 0.5
    blur: float = 0.025
    min_reference: float = 0.0

    def __post_init__(self) -> None:
        if not (0 < self.knee <= 1 and 0 <= self.strength <= 2 and 0 < self.blur <= 0.2):
            raise ValueError(
                f"tone layer needs 0 < knee ≤ 1, 0 ≤ strength ≤ 2 and 0 < blur ≤ 0.2, got {self.knee}, "
                f"{self.strength}, {self.blur}"
            )
        if not 0 <= self.min_reference <= 1:
            raise ValueError(f"tone layer needs 0 ≤ min_reference ≤ 1, got {self.min_reference}")

    def to_dict(self) -> dict[str, float]:
        return {"knee": self.knee, "strength": self.strength, "blur": self.blur, "min_reference": self.min_reference}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ToneLayer | None:
        """Parse ``style.json``'s ``tone_layer`` (absent or null: none).

        Raises:
            WeightsError: the entry is malformed (``where`` names the file).
        """
        if data is None:
            return None
        if not isinstance(data, dict) or set(data) - {"knee", "strength", "blur", "min_reference"}:
            raise WeightsError(f"{where}: tone_layer must be an object with knee, strength, blur, min_reference")
        try:
            return cls(**{key: float(value) for key, value in data.items()})
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"{where}: tone_layer: {exc}") from None


def _gaussian_blur(grey: torch.Tensor, sigma: float) -> torch.Tensor:
    """``B 1 H W`` blurred by a separable Gaussian, the borders reflected."""
    radius = max(1, math.ceil(3 * sigma))
    kernel = gaussian_taps(2 * radius + 1, sigma, str(grey.device), grey.dtype)
    padded = F.pad(grey, (radius, radius, radius, radius), mode="reflect")
    rows = F.conv2d(padded, kernel.view(1, 1, 1, -1))
    return F.conv2d(rows, kernel.view(1, 1, -1, 1))


def shade(photos: torch.Tensor, layer: ToneLayer) -> torch.Tensor:
    """The multiplier in (0, 1] that ``layer`` puts under the drawings of ``B 3 S S`` photos in [-1, 1]:
    ``B 1 S S``."""
    check_shape(photos, "B 3 S S", "photos")
    weights = torch.tensor(LUMA, device=photos.device, dtype=torch.float32).view(1, 3, 1, 1)
    grey = (photos.float().add(1).div(2) * weights).sum(dim=1, keepdim=True)
    blurred = _gaussian_blur(grey, layer.blur * photos.shape[-1])
    reference = torch.quantile(grey.flatten(1), REFERENCE_QUANTILE, dim=1).view(-1, 1, 1, 1)
    reference = reference.clamp_min(max(layer.min_reference, 0.05))
    ratio = (blurred / (layer.knee * reference)).clamp(1e-3, 1.0)
    return ratio**layer.strength


def apply_tone_layer(photos: torch.Tensor, drawings: torch.Tensor, layer: ToneLayer | None) -> torch.Tensor:
    """``B 3 S S`` drawings in [-1, 1] shaded where their photos are dark (unchanged when ``layer`` is None)."""
    if layer is None:
        return drawings
    check_shape(drawings, f"{photos.shape[0]} 3 {photos.shape[2]} {photos.shape[3]}", "drawings")
    multiplier = shade(photos, layer).to(drawings.device)
    return (drawings.float().add(1) * multiplier).sub(1).to(drawings.dtype)


class LayeredStudent(nn.Module):
    """A student followed by its style's tone layer: ``B 3 S S`` photo in [-1, 1] → drawing in [-1, 1]."""

    def __init__(self, student: nn.Module, layer: ToneLayer) -> None:
        super().__init__()
        self.student, self.layer = student, layer

    def forward(self, photos: torch.Tensor) -> torch.Tensor:
        return apply_tone_layer(photos, self.student(photos), self.layer)
