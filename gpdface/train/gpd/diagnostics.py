"""Checks of an adapted teacher: is G_t(w) still G_s(w)'s face, and are the G_t samples varied, not copies?"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..student.losses import ssim, to_grey
from ..teachers.base import Teacher


def structure_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per pair: SSIM of the grey images blurred a little (structure, not texture), in [−1, 1]."""
    blur = lambda x: F.avg_pool2d(to_grey((x + 1) / 2), 3, 1, 1)  # noqa: E731
    return ssim(blur(a), blur(b))


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """Mean L1 distance between all distinct pairs of a batch (``B 3 H W`` in [-1, 1])."""
    flat = images.flatten(1)
    distances = torch.cdist(flat, flat, p=1) / flat.shape[1]
    n = flat.shape[0]
    return float(distances.sum() / (n * (n - 1)))


@torch.no_grad()
def adaptation_report(
    source: Teacher, target: Teacher, exemplars: torch.Tensor, samples: int = 64, seed: int = 123
) -> dict[str, float]:
    """Correspondence (matched vs shuffled structure similarity), diversity and memorisation figures."""
    latents = source.sample_latents(samples, torch.Generator().manual_seed(seed), truncation=0.9)
    xs, ys = source.synthesis(latents), target.synthesis(latents)
    shuffled = torch.roll(ys, shifts=1, dims=0)
    flat_y, flat_e = ys.flatten(1), exemplars.to(ys.device).flatten(1)
    nearest = (torch.cdist(flat_y, flat_e, p=1) / flat_y.shape[1]).min(dim=1).values
    return {
        "structure_ssim_matched": float(structure_similarity(xs, ys).mean()),
        "structure_ssim_shuffled": float(structure_similarity(xs, shuffled).mean()),
        "nearest_exemplar_l1_mean": float(nearest.mean()),
        "nearest_exemplar_l1_min": float(nearest.min()),
        "diversity_samples_l1": mean_pairwise_distance(ys),
        "diversity_exemplars_l1": mean_pairwise_distance(exemplars) if exemplars.shape[0] > 1 else float("nan"),
        "samples": samples,
    }
