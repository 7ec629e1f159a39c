"""A 64 px DCGAN face generator (100-d latent, transposed convolutions, BatchNorm + ReLU, tanh).

The layout matches PyTorch's DCGAN tutorial (``main.0`` … ``main.12``), which is how the
``gan-face-generate`` package (MIT; trained on Microsoft's synthetic DigiFace-1M faces, research use)
stores its generator. BatchNorm always runs in eval mode: the running statistics are part of the model.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from .base import Teacher


def dcgan_generator(latent_dim: int = 100, width: int = 64) -> nn.Sequential:
    def up(cin: int, cout: int) -> list[nn.Module]:
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    return nn.Sequential(
        nn.ConvTranspose2d(latent_dim, width * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(width * 8), nn.ReLU(True),
        *up(width * 8, width * 4), *up(width * 4, width * 2), *up(width * 2, width),
        nn.ConvTranspose2d(width, 3, 4, 2, 1, bias=False), nn.Tanh(),
    )  # fmt: skip


class DCGANTeacher(Teacher):
    """DCGAN generator behind the ``Teacher`` interface; latents are z (``B 100``)."""

    FEATURE_TAPS = (5, 8, 11)  # after the ReLUs at 8, 16 and 32 px

    def __init__(self, state: dict[str, torch.Tensor], template: np.ndarray, name: str = "dcgan64") -> None:
        super().__init__()
        self.latent_dim = state["main.0.weight"].shape[0]
        self.main = dcgan_generator(self.latent_dim, state["main.12.weight"].shape[0])
        self.load_state_dict(state, strict=True)  # keys main.0 … main.12, as published
        self.name, self.resolution, self.latent_shape = name, 64, (self.latent_dim,)
        self.template = np.asarray(template, np.float32)
        self.eval()

    def train(self, mode: bool = True) -> DCGANTeacher:
        super().train(mode)
        for module in self.modules():  # the running statistics belong to the model: never re-estimated
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
        return self

    def sample_latents(self, n, generator=None, truncation=1.0, mixing=0.0) -> torch.Tensor:
        z = torch.randn(n, self.latent_dim, generator=generator)
        return (z * truncation).to(self.device)

    def synthesis(self, latents: torch.Tensor) -> torch.Tensor:
        return self.main(latents.view(latents.shape[0], self.latent_dim, 1, 1))

    def synthesis_with_features(self, latents):
        x = latents.view(latents.shape[0], self.latent_dim, 1, 1)
        features = []
        for index, layer in enumerate(self.main):
            x = layer(x)
            if index in self.FEATURE_TAPS:
                features.append(x)
        return x, features

    def adaptable_parameters(self) -> Iterator[nn.Parameter]:
        return self.main.parameters()
