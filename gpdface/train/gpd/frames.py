"""The two frames of two-scale GPD: the style's aligned crop (e.g. 256 px, FFHQ template) and the teacher's
(e.g. 64 px, its own template). One similarity maps one onto the other; images cross between them here,
with an area resize for the integer part of a downscale so that nothing aliases.

For ``lfw64`` (the FFHQ template at 64 px) the map is a plain 4× reduction; ``dcgan64`` has a template of
its own, so its map also shifts and rotates slightly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ...face.align import estimate_alignment
from ...shapes import check_shape


@dataclass(frozen=True)
class FrameMap:
    """The similarity from the style's crop (``style_size`` px) to the teacher's (``teacher_size`` px).

    Templates scale with the crop (``template_for``: a landmark at x in a 256 px crop is at x / 4 in a 64 px
    one), which is how a teacher's training faces were aligned, so ``to_teacher`` follows that convention;
    it is 0.375 px (at 64 px) from a plain 4× box reduction, whose pixel centres sit at (4j + 1.5).

    Attributes:
        matrix: ``2 3`` affine, style-crop pixels → teacher-crop pixels.
        style_size: side of the style's crop.
        teacher_size: side of the teacher's images.
    """

    matrix: np.ndarray
    style_size: int
    teacher_size: int

    @classmethod
    def between(
        cls, style_template: np.ndarray, style_size: int, teacher_template: np.ndarray, teacher_size: int
    ) -> FrameMap:
        """The map that puts the style template's landmarks onto the teacher template's."""
        check_shape(style_template, "5 2", "style template")
        check_shape(teacher_template, "5 2", "teacher template")
        return cls(estimate_alignment(style_template, teacher_template), style_size, teacher_size)

    @property
    def scale(self) -> float:
        """Teacher pixels per style pixel."""
        return float(abs(np.linalg.det(self.matrix[:, :2])) ** 0.5)

    def to_teacher(self, images: np.ndarray) -> np.ndarray:
        """``N S S 3`` uint8 style-frame images → ``N R R 3`` uint8 in the teacher's frame."""
        check_shape(images, f"N {self.style_size} {self.style_size} 3", "style-frame images")
        return np.stack([_warp(image, self.matrix, self.teacher_size) for image in images])

    def to_style(self, images: np.ndarray, size: int | None = None) -> np.ndarray:
        """``N R R 3`` uint8 teacher-frame images → ``N s s 3`` uint8 in the style's frame at side ``size``
        (the style's own crop size when None; the teacher's resolution for targets at the teacher's scale).

        A smaller ``size`` is the style crop reduced by pixel centres, as a ``S / size`` box filter reduces
        it — so these targets line up with the student's drawing pooled to the teacher's resolution.
        """
        check_shape(images, f"N {self.teacher_size} {self.teacher_size} 3", "teacher-frame images")
        size = size or self.style_size
        ratio = size / self.style_size
        style_to_out = np.array([[ratio, 0, 0.5 * ratio - 0.5], [0, ratio, 0.5 * ratio - 0.5], [0, 0, 1]])
        teacher_to_style = np.linalg.inv(np.r_[self.matrix, [[0, 0, 1]]])
        return np.stack([_warp(image, (style_to_out @ teacher_to_style)[:2], size) for image in images])


def _warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp by ``matrix`` into a ``size`` square; a downscale first goes through an area resize."""
    scale = float(abs(np.linalg.det(matrix[:, :2])) ** 0.5)
    factor = int(np.floor(1 / scale)) if scale < 1 else 1
    if factor > 1:
        height, width = image.shape[:2]
        image = cv2.resize(image, (round(width / factor), round(height / factor)), interpolation=cv2.INTER_AREA)
        # pixel centres: x_small = (x + 0.5) / factor − 0.5, so x = factor · x_small + (factor − 1) / 2
        to_small = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])
        matrix = (np.r_[matrix, [[0, 0, 1]]] @ to_small)[:2]
    if np.allclose(matrix, [[1, 0, 0], [0, 1, 0]], atol=1e-6) and image.shape[0] == size == image.shape[1]:
        return image.copy()
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
