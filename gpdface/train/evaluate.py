"""Evaluation with the face-sketch protocol: the result is mapped back to the photo's own frame, both
images are turned grey, and SSIM (Gaussian window, σ 1.5, population covariance) and FSIM (Zhang et al.
2011, through the ``piq`` package, which needs no downloaded weights) are averaged."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..imageio import to_tensor, to_uint8
from ..nets.student import StudentNet
from .data import AlignedPairs
from .losses import ssim


def _grey(image: np.ndarray) -> torch.Tensor:
    g = image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    return torch.from_numpy(g)[None, None]


def grey_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two ``H W 3`` uint8 images after conversion to grey, on the 0–255 range."""
    return float(ssim(_grey(a), _grey(b), data_range=255.0)[0])


def grey_fsim(a: np.ndarray, b: np.ndarray) -> float | None:
    """FSIM of two ``H W 3`` uint8 images in grey, or None when ``piq`` is not installed."""
    try:
        import piq
    except ImportError:
        return None
    return float(piq.fsim(_grey(a).float(), _grey(b).float(), data_range=255.0, chromatic=False))


@torch.inference_mode()
def stylize_in_frame(model: StudentNet, pairs: AlignedPairs, device: torch.device, batch_size: int = 8):
    """For each pair, the student's output warped back into the source photo's frame (``H W 3`` uint8)."""
    model.eval()
    outputs = []
    for start in range(0, len(pairs), batch_size):
        indices = range(start, min(start + batch_size, len(pairs)))
        crops = torch.stack([to_tensor(pairs.crops(i)[0]) for i in indices]).to(device)
        for i, stylized in zip(indices, to_uint8(model(crops).float()), strict=True):
            height, width = pairs.sources[i].shape[:2]
            inverse = cv2.invertAffineTransform(pairs.matrices[i])
            outputs.append(
                cv2.warpAffine(
                    stylized, inverse, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
                )
            )
    return outputs


def evaluate_pairs(model: StudentNet, pairs: AlignedPairs, device: torch.device) -> dict[str, float]:
    """Mean SSIM and FSIM of the student against the targets, and of the grey source photo (the floor)."""
    outputs = stylize_in_frame(model, pairs, device)
    report = {"pairs": len(pairs)}
    for metric, fn in (("ssim", grey_ssim), ("fsim", grey_fsim)):
        student = [fn(o, t) for o, t in zip(outputs, pairs.targets, strict=True)]
        if None in student:
            continue  # FSIM needs piq (in the train extra)
        report[metric] = float(np.mean(student))
        report[f"{metric}_photo"] = float(
            np.mean([fn(s, t) for s, t in zip(pairs.sources, pairs.targets, strict=True)])
        )
    return report
