"""Differentiable augmentation (Zhao et al. 2020): the same kind of random translation, cutout and colour
change for real and generated batches before the discriminator, so a few-shot discriminator cannot memorise.

Conditional discriminators see a photo and its stylization stacked on the channel axis (``B 6 H W``); the
geometry must then move both together while colour is changed per 3-channel image, and feature matching
needs the real and the generated pair augmented *identically*. ``AugmentDraw`` holds one draw of the random
parameters so that it can be applied to several batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ...shapes import check_shape


@dataclass(frozen=True)
class AugmentDraw:
    """One draw of DiffAugment's random parameters for a batch (all ``B`` tensors on the CPU)."""

    brightness: torch.Tensor  # added, in [-0.5, 0.5)
    saturation: torch.Tensor  # factor in [0, 2)
    contrast: torch.Tensor  # factor in [0.5, 1.5)
    shift_y: torch.Tensor  # whole pixels, within ±1/8 of the side
    shift_x: torch.Tensor
    cut_y: torch.Tensor  # centre of the cut-out square (half the side)
    cut_x: torch.Tensor

    @classmethod
    def sample(cls, batch: int, height: int, width: int, generator: torch.Generator | None = None) -> AugmentDraw:
        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator)

        # The order of the draws is part of the contract: runs resumed from a checkpoint replay it.
        brightness = rand(batch) - 0.5
        saturation = rand(batch) * 2
        contrast = rand(batch) + 0.5
        shift_y = ((rand(batch) - 0.5) * (height // 4)).round().long()
        shift_x = ((rand(batch) - 0.5) * (width // 4)).round().long()
        cut_y = (rand(batch) * (height + 1 - (height // 2) % 2)).long()
        cut_x = (rand(batch) * (width + 1 - (width // 2) % 2)).long()
        return cls(brightness, saturation, contrast, shift_y, shift_x, cut_y, cut_x)


def diff_augment(
    x: torch.Tensor, generator: torch.Generator | None = None, draw: AugmentDraw | None = None
) -> torch.Tensor:
    """Colour, translation (±1/8) and cutout (1/2 side) on ``B 3k H W`` in [-1, 1]; differentiable in ``x``.

    Args:
        x: a batch of images, or of ``k`` images stacked on the channel axis (e.g. photo + sketch), which
            then share the geometry while colour is changed on each 3-channel image.
        generator: the random source when ``draw`` is not given.
        draw: apply these parameters (e.g. the draw of a real batch to its generated counterpart).
    """
    batch, channels, height, width = check_shape(x, "B C H W", "diff_augment input").values()
    if channels % 3:
        raise ValueError(f"diff_augment needs 3 channels per image, got {channels}")
    draw = draw or AugmentDraw.sample(batch, height, width, generator)
    device = x.device
    per_image = x.reshape(batch * (channels // 3), 3, height, width)

    def factor(values: torch.Tensor) -> torch.Tensor:  # B → B·k 1 1 1, each image of a stack alike
        return values.to(device, x.dtype).repeat_interleave(channels // 3).view(-1, 1, 1, 1)

    per_image = per_image + factor(draw.brightness)
    mean = per_image.mean(dim=1, keepdim=True)
    per_image = (per_image - mean) * factor(draw.saturation) + mean
    mean = per_image.mean(dim=[1, 2, 3], keepdim=True)
    per_image = (per_image - mean) * factor(draw.contrast) + mean
    x = per_image.reshape(batch, channels, height, width)

    ys = (torch.arange(height, device=device)[None, :] + draw.shift_y.to(device)[:, None]).clamp(-1, height)  # B H
    xs = (torch.arange(width, device=device)[None, :] + draw.shift_x.to(device)[:, None]).clamp(-1, width)  # B W
    padded = F.pad(x, (1, 1, 1, 1))  # index -1 and H land on the zero border
    x = padded[torch.arange(batch, device=device)[:, None, None], :, (ys + 1)[:, :, None], (xs + 1)[:, None, :]]
    x = x.permute(0, 3, 1, 2)

    cut_h, cut_w = height // 2, width // 2
    yy = torch.arange(height, device=device)[None, :, None]
    xx = torch.arange(width, device=device)[None, None, :]
    inside = ((yy - draw.cut_y.to(device)[:, None, None]).abs() < cut_h // 2) & (
        (xx - draw.cut_x.to(device)[:, None, None]).abs() < cut_w // 2
    )
    return x * (~inside)[:, None].to(x.dtype)
