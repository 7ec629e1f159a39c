"""Projection of exemplars into a teacher's latent space: the anchors of GPD.

An exemplar aligned to the teacher's template is reconstructed by optimising a latent code (z for the
DCGAN, W+ for StyleGAN2) under L1 + multi-scale SSIM. Grey exemplars (sketches) are compared with the
generator's output in grey, so colour is not asked of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ...imageio import to_uint8
from ...shapes import check_shape
from ..data.pairs import grey_flags
from ..student.losses import ms_ssim, to_grey
from ..teachers.base import Teacher


@dataclass
class Projection:
    """Latents found for a batch of targets.

    Attributes:
        latents: ``K *latent_shape``.
        reconstructions: ``K 3 R R`` teacher outputs for them, in [-1, 1].
        errors: ``K`` mean absolute error of the reconstructions (grey when compared in grey).
    """

    latents: torch.Tensor
    reconstructions: torch.Tensor
    errors: torch.Tensor


def is_grey(images: torch.Tensor) -> torch.Tensor:
    """Per image of ``B 3 H W`` in [-1, 1]: whether it is grey, by the one rule (``data.grey_flags``)."""
    return torch.from_numpy(grey_flags(to_uint8(images.float()))).to(images.device)


def _distance(output: torch.Tensor, target: torch.Tensor, grey: torch.Tensor) -> torch.Tensor:
    """Per-image L1 + (1 − MS-SSIM), in grey for the grey targets."""
    mask = grey[:, None, None, None]
    output = torch.where(mask, to_grey(output).expand_as(output), output)
    l1 = (output - target).abs().flatten(1).mean(1)
    return l1 + (1 - ms_ssim((output + 1) / 2, (target + 1) / 2))


def project(
    teacher: Teacher,
    targets: torch.Tensor,
    steps: int = 300,
    lr: float = 0.05,
    prior_weight: float = 1e-3,
    candidates: int = 128,
    on_step: Callable[[int, float], None] | None = None,
) -> Projection:
    """Find latents whose synthesis reconstructs ``targets`` (``K 3 R R`` in [-1, 1], aligned to the teacher).

    Args:
        teacher: the source GAN (frozen here).
        targets: exemplars at the teacher's resolution.
        steps: Adam steps.
        lr: learning rate (decays to 10 % linearly).
        prior_weight: keeps latents near where they started, among the generator's typical codes.
        candidates: random latents tried first; each target starts from its closest one (0: the average latent).
        on_step: called with (step, loss).
    """
    check_shape(targets, f"K 3 {teacher.resolution} {teacher.resolution}", "targets")
    device = teacher.device
    targets = targets.to(device)
    grey = is_grey(targets)
    targets = torch.where(grey[:, None, None, None], to_grey(targets).expand_as(targets), targets)
    start = _starting_latents(teacher, targets, grey, candidates)
    latent = start.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([latent], lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1 - 0.9 * s / max(1, steps))
    flags = [p.requires_grad for p in teacher.parameters()]
    for p in teacher.parameters():  # only the latent is optimised
        p.requires_grad_(False)
    try:
        _optimise(teacher, latent, start, targets, grey, optimizer, scheduler, steps, prior_weight, on_step)
    finally:
        for p, flag in zip(teacher.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    with torch.no_grad():
        reconstructions = teacher.synthesis(latent)
        shown = torch.where(grey[:, None, None, None], to_grey(reconstructions).expand_as(targets), reconstructions)
        errors = (shown - targets).abs().flatten(1).mean(1)
    return Projection(latent.detach(), reconstructions, errors)


def _optimise(teacher, latent, start, targets, grey, optimizer, scheduler, steps, prior_weight, on_step) -> None:
    for step in range(steps):
        distance = _distance(teacher.synthesis(latent), targets, grey)
        prior = (latent - start).pow(2).flatten(1).mean(1)
        loss = (distance + prior_weight * prior).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if on_step is not None:
            on_step(step + 1, distance.detach().mean().item())


@torch.no_grad()
def _starting_latents(teacher: Teacher, targets: torch.Tensor, grey: torch.Tensor, candidates: int) -> torch.Tensor:
    """For each target, the closest of ``candidates`` random latents (the average latent when 0)."""
    if candidates <= 0:
        return teacher.initial_latent(targets.shape[0]).detach()
    pool = teacher.sample_latents(candidates, truncation=0.7)
    images = teacher.synthesis(pool)
    best = []
    for target, is_grey_target in zip(targets, grey, strict=True):
        repeated = target.expand_as(images)
        distance = _distance(images, repeated, is_grey_target.expand(images.shape[0]))
        best.append(pool[int(distance.argmin())])
    return torch.stack(best)
