"""Small filters shared by the runtime and training: one Gaussian for every blur written in torch."""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=8)
def gaussian_taps(size: int, sigma: float, device: str, dtype: torch.dtype) -> torch.Tensor:
    """The ``size`` taps of a normalised 1-D Gaussian of ``sigma`` pixels, centred (apply it in two passes)."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).to(device=device, dtype=dtype)
