"""Inference-only rewrites of trained networks that give the same outputs faster.

``fold_batchnorm``: a batch normalisation after a convolution is, once its statistics are frozen, a
per-channel scale and shift — folded into the convolution's weights and bias it costs nothing. On 2 CPU
cores the normalisation passes were a quarter of RetinaFace's time and 5 % of the student's (each reads and
writes a whole activation map).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` (in eval mode) in which every ``Conv2d`` directly followed by a ``BatchNorm2d`` in an
    ``nn.Sequential`` carries the normalisation, and the normalisation is an ``Identity``. The outputs equal
    the original's in eval mode up to float rounding; the copy is for inference only (it cannot be trained
    as the original was)."""
    folded = copy.deepcopy(model).eval()
    for sequence in folded.modules():
        if not isinstance(sequence, nn.Sequential):
            continue
        for index in range(len(sequence) - 1):
            conv, norm = sequence[index], sequence[index + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d) and norm.track_running_stats:
                sequence[index] = _folded_conv(conv, norm)
                sequence[index + 1] = nn.Identity()
    return folded


@torch.no_grad()
def _folded_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    scale = torch.rsqrt(norm.running_var + norm.eps)
    if norm.affine:
        scale = scale * norm.weight
    shift = norm.bias if norm.affine else torch.zeros_like(scale)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    fused = copy.deepcopy(conv)
    fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    fused.bias = nn.Parameter((bias - norm.running_mean) * scale + shift)
    return fused
