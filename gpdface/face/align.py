"""5-point similarity alignment to the FFHQ face template, and its inverse."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..shapes import check_shape

# FFHQ template at 512 px: left eye, right eye, nose tip, left mouth corner, right mouth corner.
FFHQ_TEMPLATE_512 = np.array(
    [
        [192.98138, 239.94708],
        [318.90277, 240.19360],
        [256.63416, 314.01935],
        [201.26117, 371.41043],
        [313.08905, 371.15118],
    ],
    dtype=np.float32,
)


def template_for(crop_size: int, template: np.ndarray | None = None, template_size: int = 512) -> np.ndarray:
    """The 5-point template (``5 2``, crop pixels) for a square crop of side ``crop_size``.

    Args:
        crop_size: side of the aligned crop.
        template: landmarks defined on a ``template_size`` crop; the FFHQ template when None.
        template_size: the crop side ``template`` is given for.
    """
    base = FFHQ_TEMPLATE_512 if template is None else np.asarray(template, dtype=np.float32)
    check_shape(base, "5 2", "template")
    return base * (crop_size / template_size)


@dataclass(frozen=True)
class AlignedFace:
    """A face crop and the transforms that relate it to the photo.

    Attributes:
        crop: ``S S 3`` uint8 aligned crop.
        matrix: ``2 3`` affine photo → crop.
        inverse: ``2 3`` affine crop → photo.
    """

    crop: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray


def estimate_alignment(landmarks: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The similarity transform (``2 3``) that maps the 5 ``landmarks`` onto ``template`` (LMEDS)."""
    check_shape(landmarks, "5 2", "landmarks")
    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(landmarks, np.float32), np.asarray(template, np.float32), method=cv2.LMEDS
    )
    if matrix is None:  # degenerate landmarks (all on one point): fall back to least squares
        matrix, _ = cv2.estimateAffinePartial2D(
            np.asarray(landmarks, np.float32), np.asarray(template, np.float32), method=0
        )
    return matrix.astype(np.float64)


def align_face(image: np.ndarray, landmarks: np.ndarray, crop_size: int, template: np.ndarray) -> AlignedFace:
    """Warp the face with ``landmarks`` in ``image`` (``H W 3``) to an aligned ``crop_size`` crop.

    Borders are reflected so a face near the photo's edge still fills the crop with plausible pixels.
    Only the crop is computed, whatever the photo's size.
    """
    matrix = estimate_alignment(landmarks, template)
    crop = cv2.warpAffine(
        image, matrix, (crop_size, crop_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix))
