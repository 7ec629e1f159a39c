"""5-point similarity alignment to the FFHQ face template, and its inverse."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..shapes import check_shape

MIN_SPREAD = 1.0  # px: five landmarks closer together than this cannot place a face
OUTSIDE = 2.0  # landmarks more than this many image sides beyond an edge are refused (align_face)

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
    """The similarity transform (``2 3``) that maps the 5 ``landmarks`` onto ``template`` (LMEDS; plain least
    squares where LMEDS finds no consensus, e.g. points on one line).

    Raises:
        InputError: landmarks that are not finite, or that lie within ``MIN_SPREAD`` px of one point.
    """
    check_shape(landmarks, "5 2", "landmarks")
    points = np.asarray(landmarks, np.float64)
    if not np.isfinite(points).all():
        raise InputError("landmarks must be finite numbers")
    if np.sqrt(((points - points.mean(axis=0)) ** 2).sum(axis=1).mean()) < MIN_SPREAD:
        raise InputError(f"degenerate landmarks: the five points lie within {MIN_SPREAD:g} px of one point")
    matrix, _ = cv2.estimateAffinePartial2D(
        points.astype(np.float32), np.asarray(template, np.float32), method=cv2.LMEDS
    )
    if matrix is None:
        return least_squares_similarity(points, np.asarray(template, np.float64))
    return matrix.astype(np.float64)


def least_squares_similarity(points: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The rotation, uniform scale and shift (``2 3``) closest to mapping ``points`` onto ``targets`` in the
    least-squares sense (closed form; OpenCV's pinned build refuses its own least-squares method here)."""
    p, q = points - points.mean(axis=0), targets - targets.mean(axis=0)
    norm = (p**2).sum()
    a = (p * q).sum() / norm  # scale · cos θ
    b = (p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]).sum() / norm  # scale · sin θ
    rotation = np.array([[a, -b], [b, a]])
    return np.c_[rotation, targets.mean(axis=0) - rotation @ points.mean(axis=0)]


def align_face(image: np.ndarray, landmarks: np.ndarray, crop_size: int, template: np.ndarray) -> AlignedFace:
    """Warp the face with ``landmarks`` in ``image`` (``H W 3``) to an aligned ``crop_size`` crop.

    Borders are reflected so a face near the photo's edge still fills the crop with plausible pixels.
    Only the crop is computed, whatever the photo's size.

    Raises:
        InputError: landmarks far outside the image (more than ``OUTSIDE`` times its longer side beyond an
            edge): no face there, and reflecting the border out to them would take time in proportion.
    """
    check_shape(image, "H W C", "image")
    points = np.asarray(landmarks, np.float64)
    side = max(image.shape[:2])
    if np.isfinite(points).all() and (
        (points < -OUTSIDE * side).any() or (points > (1 + OUTSIDE) * np.array(image.shape[1::-1])).any()
    ):
        raise InputError(f"landmarks lie far outside the {image.shape[1]}×{image.shape[0]} image; no face to align")
    matrix = estimate_alignment(landmarks, template)
    crop = cv2.warpAffine(
        image, matrix, (crop_size, crop_size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    return AlignedFace(crop, matrix, cv2.invertAffineTransform(matrix))
