"""DCGAN face generators (100-d latent, transposed convolutions, BatchNorm + ReLU, tanh): 64 px as
published, 64 or 128 px when pretrained by ``gpdface pretrain-teacher``.

The layout matches PyTorch's DCGAN tutorial (``main.0`` … ``main.12``), which is how the
``gan-face-generate`` package (MIT; trained on Microsoft's synthetic DigiFace-1M faces, research use)
stores its generator. BatchNorm always runs in eval mode: the running statistics are part of the model.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from .base import Teacher


def dcgan_channels(width: int, resolution: int) -> list[int]:
    """The default channel plan: ``8 · width`` at 4 px, halving per octave (capped at 8×) to ``width``."""
    octaves = int(math.log2(resolution)) - 3  # ×2 steps after the 4 px seed, before the RGB layer
    if 2 ** (octaves + 3) != resolution or octaves < 1:
        raise ValueError(f"resolution must be a power of two ≥ 16, not {resolution}")
    return [width * min(8, 2 ** (octaves - i)) for i in range(octaves + 1)]  # 64 px: 8w 4w 2w w


def dcgan_generator(latent_dim: int, channels: Sequence[int]) -> nn.Sequential:
    """DCGAN generator: a 4 px seed of ``channels[0]``, one ×2 transposed convolution per further entry, RGB.

    The output side is ``2 ** (len(channels) + 2)``; with ``dcgan_channels(64, 64)`` the modules are exactly
    the tutorial's ``main.0`` … ``main.12``. A generator grown from a smaller one (``pretrain-teacher
    --grow-from``) has the smaller one's channels plus one more entry.
    """

    def up(cin: int, cout: int) -> list[nn.Module]:
        return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]

    layers = [
        nn.ConvTranspose2d(latent_dim, channels[0], 4, 1, 0, bias=False),
        nn.BatchNorm2d(channels[0]),
        nn.ReLU(True),
    ]
    for cin, cout in itertools.pairwise(channels):
        layers += up(cin, cout)
    return nn.Sequential(*layers, nn.ConvTranspose2d(channels[-1], 3, 4, 2, 1, bias=False), nn.Tanh())


def generator_shape(state: dict[str, torch.Tensor]) -> tuple[int, list[int]]:
    """(latent_dim, channels) of a DCGAN generator state dict, read from its weights' shapes."""
    last = max(int(k.split(".")[1]) for k in state if k.endswith(".weight") and state[k].ndim == 4)
    channels = [int(state[f"main.{index}.weight"].shape[1]) for index in range(0, last, 3)]
    return int(state["main.0.weight"].shape[0]), channels


def generator_resolution(channels: Sequence[int]) -> int:
    return 2 ** (len(channels) + 2)


class DCGANTeacher(Teacher):
    """DCGAN generator behind the ``Teacher`` interface; latents are z (``B 100``)."""

    def __init__(self, state: dict[str, torch.Tensor], template: np.ndarray, name: str = "dcgan64") -> None:
        super().__init__()
        self.latent_dim, channels = generator_shape(state)
        self.main = dcgan_generator(self.latent_dim, channels)
        resolution = generator_resolution(channels)
        self.load_state_dict(state, strict=True)  # keys main.0 … main.12 at 64 px, as published
        self.name, self.resolution, self.latent_shape = name, resolution, (self.latent_dim,)
        # feature taps: after the ReLUs of the ×2 layers (8, 16, 32 px at 64 px), the coarsest skipped
        self.feature_taps = tuple(range(5, len(self.main) - 2, 3))
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
            if index in self.feature_taps:
                features.append(x)
        return x, features

    def adaptable_parameters(self) -> Iterator[nn.Parameter]:
        return self.main.parameters()
