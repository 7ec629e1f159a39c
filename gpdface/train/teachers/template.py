"""Estimate a generator's face template the way FFHQ's was made: detect the 5 landmarks on many of its
samples and average them."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ...face.detect import Detector
from ...imageio import to_uint8
from .base import Teacher


@torch.no_grad()
def estimate_template(
    teacher: Teacher, detector: Detector, samples: int = 500, upsample: int = 4, seed: int = 0, batch: int = 50
) -> tuple[np.ndarray, float]:
    """Mean landmarks (``5 2``, pixels at the teacher's resolution) and the share of samples with one face.

    Samples are upsampled ``upsample``× for the detector, which is trained on larger faces.
    """
    g = torch.Generator().manual_seed(seed)
    found = []
    for start in range(0, samples, batch):
        images = to_uint8(teacher.synthesis(teacher.sample_latents(min(batch, samples - start), g)).float())
        for image in images:
            big = cv2.resize(image, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_CUBIC)
            faces = detector.detect(big)
            if len(faces) == 1:
                found.append(faces[0].landmarks / upsample)
    if not found:
        raise RuntimeError("the detector found no face in any sample; is this a face generator?")
    return np.mean(found, axis=0).astype(np.float32), len(found) / samples
