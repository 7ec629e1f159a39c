"""Image losses and similarity measures for training and evaluation.

SSIM follows Wang et al. (2004): an 11×11 Gaussian window with σ = 1.5, constants K1 = 0.01, K2 = 0.03
on a data range of 1 for [0, 1] images, and population (biased) covariance, which is the protocol the
face-sketch literature reports its numbers with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ...filters import gaussian_taps
from ...formats import LUMA
from ...shapes import check_shape


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, size: int = 11, sigma: float = 1.5):
    """Per-pixel SSIM and contrast-structure maps of ``B C H W`` images (valid region only)."""
    check_shape(x, "B C H W", "x")
    check_shape(y, f"{x.shape[0]} {x.shape[1]} {x.shape[2]} {x.shape[3]}", "y")
    channels = x.shape[1]
    size = min(size, x.shape[2] - (1 - x.shape[2] % 2), x.shape[3] - (1 - x.shape[3] % 2))  # small images: odd, fits
    taps = gaussian_taps(size, sigma, str(x.device), x.dtype)
    # The 2-D Gaussian is separable: a 1×k then a k×1 pass give the same window at 2k instead of k² taps.
    # The five local statistics go through one grouped convolution: B 5C H W.
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    groups = 5 * channels
    blurred = F.conv2d(stack, taps.view(1, 1, 1, size).expand(groups, 1, 1, size), groups=groups)
    blurred = F.conv2d(blurred, taps.view(1, 1, size, 1).expand(groups, 1, size, 1), groups=groups)
    mu_x, mu_y, xx, yy, xy = blurred.split(channels, dim=1)

    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return luminance * cs, cs


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image (``B``) of ``B C H W`` images with values spanning ``data_range``."""
    return ssim_map(x, y, data_range)[0].flatten(1).mean(1)


MS_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, scales: int = 3, data_range: float = 1.0) -> torch.Tensor:
    """Multi-scale SSIM per image (Wang et al. 2003 weights, renormalised to ``scales`` levels)."""
    weights = torch.tensor(MS_WEIGHTS[:scales], device=x.device, dtype=x.dtype)
    weights = weights / weights.sum()
    values = []
    for level in range(scales):
        full, cs = ssim_map(x, y, data_range)
        metric = full if level == scales - 1 else cs
        values.append(metric.flatten(1).mean(1).clamp_min(1e-6))
        if level < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(values, dim=1)  # B scales
    return torch.prod(stacked**weights, dim=1)


def pixel_loss_per_sample(output: torch.Tensor, target: torch.Tensor, ssim_weight: float = 1.0) -> torch.Tensor:
    """L1 + ``ssim_weight`` · (1 − MS-SSIM) of each image pair (``B``), images in [-1, 1]."""
    l1 = (output - target).abs().flatten(1).mean(1)
    if ssim_weight == 0:
        return l1
    return l1 + ssim_weight * (1 - ms_ssim((output + 1) / 2, (target + 1) / 2))


def pixel_loss(output: torch.Tensor, target: torch.Tensor, ssim_weight: float = 1.0) -> torch.Tensor:
    """The mean of ``pixel_loss_per_sample``: a scalar."""
    return pixel_loss_per_sample(output, target, ssim_weight).mean()


def to_grey(images: torch.Tensor) -> torch.Tensor:
    """``B 3 H W`` RGB → ``B 1 H W`` luma (ITU-R 601, as PIL's ``convert('L')``)."""
    weights = images.new_tensor(LUMA).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """The logistic GAN loss of a discriminator: softplus(−D(real)) + softplus(D(fake)), each a mean."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """The non-saturating generator loss softplus(−D(fake)): strong gradients while D still wins."""
    return F.softplus(-fake_logits).mean()
