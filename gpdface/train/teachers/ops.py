"""Pure-PyTorch StyleGAN2 building-block operations (no compiled extensions: CPU and any GPU).

``upfirdn2d`` is upsample (zero insertion) → pad/crop → FIR filter → downsample. The filter is applied
as a true 2-D convolution, i.e. cross-correlation with the kernel flipped in both axes: this matters
for the asymmetric kernels of loaded checkpoints.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ...shapes import check_shape

SQRT2 = math.sqrt(2.0)


def upfirdn2d(x: torch.Tensor, kernel: torch.Tensor, up: int = 1, down: int = 1, pad: tuple[int, int] = (0, 0)):
    """Filter ``x`` (``B C H W``) with the 2-D ``kernel`` (``kh kw``); the same pads on both axes.

    Output side: ``(H·up + pad0 + pad1 − kh) // down + 1``.
    """
    check_shape(kernel, "kh kw", "kernel")
    batch, channels, height, width = x.shape
    if up > 1:
        x = x.reshape(batch, channels, height, 1, width, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))  # zeros after every pixel, both axes
        x = x.reshape(batch, channels, height * up, width * up)
    pad0, pad1 = pad
    x = F.pad(x, (max(pad0, 0), max(pad1, 0), max(pad0, 0), max(pad1, 0)))
    x = x[:, :, max(-pad0, 0) : x.shape[2] - max(-pad1, 0), max(-pad0, 0) : x.shape[3] - max(-pad1, 0)]
    weight = torch.flip(kernel, [0, 1]).to(x.dtype)[None, None].expand(channels, 1, *kernel.shape)
    return F.conv2d(x, weight, stride=down, groups=channels)


def bias_leaky_relu(x: torch.Tensor, bias: torch.Tensor, slope: float = 0.2, gain: float = SQRT2) -> torch.Tensor:
    """Add a per-channel ``bias`` (dim 1), leaky ReLU, multiply by ``gain`` (StyleGAN2's fused activation)."""
    shape = (1, bias.shape[0]) + (1,) * (x.ndim - 2)
    return F.leaky_relu(x + bias.view(shape), negative_slope=slope) * gain


def fir_kernel(taps: list[int] | tuple[int, ...]) -> torch.Tensor:
    """Separable FIR taps → normalised 2-D kernel (outer product over its sum)."""
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None] if k.ndim == 1 else k
    return k / k.sum()
