"""Differentiable augmentation (Zhao et al. 2020): the same random translation, cutout and colour change
for real and generated batches before the discriminator, so a few-shot discriminator cannot memorise."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Colour, translation (±1/8) and cutout (1/2 side) on ``B 3 H W`` in [-1, 1]; differentiable in ``x``."""
    batch, _, height, width = x.shape
    device = x.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(device)

    x = x + (rand(batch, 1, 1, 1) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (rand(batch, 1, 1, 1) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    x = (x - mean) * (rand(batch, 1, 1, 1) + 0.5) + mean  # contrast

    shift_y = ((rand(batch) - 0.5) * (height // 4)).round().long()
    shift_x = ((rand(batch) - 0.5) * (width // 4)).round().long()
    ys = (torch.arange(height, device=device)[None, :] + shift_y[:, None]).clamp(-1, height)  # B H
    xs = (torch.arange(width, device=device)[None, :] + shift_x[:, None]).clamp(-1, width)  # B W
    padded = F.pad(x, (1, 1, 1, 1))  # index -1 and H land on the zero border
    x = padded[torch.arange(batch, device=device)[:, None, None], :, (ys + 1)[:, :, None], (xs + 1)[:, None, :]]
    x = x.permute(0, 3, 1, 2)

    cut_h, cut_w = height // 2, width // 2
    cy = (rand(batch) * (height + 1 - cut_h % 2)).long()
    cx = (rand(batch) * (width + 1 - cut_w % 2)).long()
    yy = torch.arange(height, device=device)[None, :, None]
    xx = torch.arange(width, device=device)[None, None, :]
    inside = ((yy - cy[:, None, None]).abs() < cut_h // 2) & ((xx - cx[:, None, None]).abs() < cut_w // 2)
    return x * (~inside)[:, None].to(x.dtype)
