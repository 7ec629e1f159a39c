"""The interface every teacher GAN offers to projection, adaptation and paired augmentation."""

from __future__ import annotations

import abc
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


class Teacher(nn.Module, abc.ABC):
    """A face generator seen through the operations GPD needs.

    Attributes:
        name: registry name or file it came from.
        resolution: side of the generated images.
        latent_shape: shape of one latent code as ``synthesis`` takes it (z, or W+ for StyleGAN2).
        template: ``5 2`` positions (pixels at ``resolution``) of the eyes, nose and mouth corners in
            the generator's frame; exemplars are aligned to it.
    """

    name: str
    resolution: int
    latent_shape: tuple[int, ...]
    template: np.ndarray

    @abc.abstractmethod
    def sample_latents(
        self, n: int, generator: torch.Generator | None = None, truncation: float = 1.0, mixing: float = 0.0
    ) -> torch.Tensor:
        """``n`` random latent codes (``n *latent_shape``) on the teacher's device.

        Args:
            n: how many.
            generator: random source, for reproducible sampling.
            truncation: pull codes toward the average (1 = none); trades diversity for quality.
            mixing: probability of style mixing, for generators that have it.
        """

    @abc.abstractmethod
    def synthesis(self, latents: torch.Tensor) -> torch.Tensor:
        """Images ``B 3 R R`` in [-1, 1] from latent codes ``B *latent_shape``."""

    @abc.abstractmethod
    def synthesis_with_features(self, latents: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Images and intermediate feature maps (coarse to fine), for the correspondence loss."""

    @abc.abstractmethod
    def adaptable_parameters(self) -> Iterator[nn.Parameter]:
        """The parameters few-shot adaptation may change (a mapping network stays frozen)."""

    def initial_latent(self, n: int = 1) -> torch.Tensor:
        """Where projection starts: the average latent."""
        return self.sample_latents(n, truncation=0.0)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
