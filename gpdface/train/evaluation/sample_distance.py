"""How far a generator's samples are from real faces, with no network a machine would have to download.

Kernel inception distance (KID; Bińkowski et al. 2018: the unbiased squared maximum mean discrepancy under
the cubic polynomial kernel ``k(x, y) = (x·y / d + 1)³``, averaged over random subsets) on features of the
project's own pinned RetinaFace detector: its backbone's three stages, each averaged over the image and
concatenated. That backbone was trained to find faces, so its features respond to what makes a face look
like one (eyes, mouth, face outline, skin texture) and the distance needs nothing but the detector the
runtime already pins by sha256. It is not the ImageNet Inception network of published KID figures, so the
values compare teachers with each other here and are not comparable with papers.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...face.detect import RetinaFaceDetector
from ...shapes import check_shape

FEATURE_SIDE = 256  # faces are enlarged to this side first: the detector's stages see them as it was trained to


@torch.no_grad()
def face_features(images: np.ndarray, detector: RetinaFaceDetector, batch: int = 32) -> np.ndarray:
    """``N D`` features of ``N R R 3`` uint8 RGB faces: the detector backbone's stages, averaged and joined."""
    check_shape(images, "N R R 3", "faces")
    features = []
    for start in range(0, len(images), batch):
        rgb = torch.from_numpy(np.ascontiguousarray(images[start : start + batch])).permute(0, 3, 1, 2).float()
        rgb = F.interpolate(rgb, size=(FEATURE_SIDE, FEATURE_SIDE), mode="bilinear", align_corners=False)
        stages = detector.backbone_stages(rgb)
        features.append(torch.cat([stage.float().mean((2, 3)) for stage in stages], dim=1).cpu())
    return torch.cat(features).numpy().astype(np.float64)


def kernel_distance(
    a: np.ndarray, b: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0
) -> tuple[float, float]:
    """KID between feature sets ``a`` (``N D``) and ``b`` (``M D``): mean and standard deviation over subsets.

    Each subset draws ``subset_size`` rows of each set without replacement (fewer when a set is smaller).
    The estimate is unbiased, so two samples of one distribution score about 0 (either sign).
    """
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be N D and M D with one D, got {a.shape} and {b.shape}")
    size = min(subset_size, len(a), len(b))
    if size < 2:
        raise ValueError("each feature set needs at least two rows")
    rng = np.random.default_rng(seed)
    dims = a.shape[1]
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), size, replace=False)]
        y = b[rng.choice(len(b), size, replace=False)]
        kxx, kyy, kxy = (((p @ q.T) / dims + 1) ** 3 for p, q in ((x, x), (y, y), (x, y)))
        off_diagonal = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (size * (size - 1))
        values.append(off_diagonal - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))
