"""Paste stylized crops back into the photo with a feathered mask.

Each crop is inverse-warped only into the bounding box of its footprint in the photo, so memory and
time follow the face size, not the photo size. The mask is a square shrunk by twice the blur radius
and then blurred, so it falls to exactly zero before the crop's border: pixels outside every face's mask
are bit-identical to the input. The blur radius is a fixed fraction of the crop, hence proportional
to the face's size in the photo.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np

from ..shapes import check_shape

FEATHER_FRACTION = 0.06  # blur radius as a share of the crop side


@lru_cache(maxsize=8)
def feather_mask(crop_size: int, feather: float = FEATHER_FRACTION) -> np.ndarray:
    """``S S`` float32 mask in [0, 1]: 1 in the middle, 0 on a border of ``2·radius`` pixels, smooth between."""
    radius = max(1, round(feather * crop_size))
    mask = np.zeros((crop_size, crop_size), np.float32)
    margin = 2 * radius
    mask[margin:-margin, margin:-margin] = 1.0
    mask = cv2.GaussianBlur(mask, (2 * radius + 1, 2 * radius + 1), sigmaX=radius / 2.0)
    mask.setflags(write=False)
    return mask


def footprint(inverse: np.ndarray, crop_size: int, height: int, width: int) -> tuple[int, int, int, int] | None:
    """Pixel box ``(x0, y0, x1, y1)`` of the photo covered by a crop, clipped; None when off the photo."""
    corners = np.array([[0, 0, 1], [crop_size, 0, 1], [0, crop_size, 1], [crop_size, crop_size, 1]], np.float64)
    pts = corners @ np.asarray(inverse, np.float64).T
    x0, y0 = np.floor(pts.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(pts.max(axis=0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def paste_faces(photo: np.ndarray, crops: Sequence[np.ndarray], inverses: Sequence[np.ndarray]) -> np.ndarray:
    """Composite stylized ``crops`` (``S S 3`` uint8) into a copy of ``photo`` (``H W 3`` uint8).

    Args:
        photo: the original photo.
        crops: stylized aligned crops.
        inverses: for each crop, the ``2 3`` affine crop → photo.

    Returns:
        The new photo; faces are composited smallest first, so the largest face is on top where they overlap.
    """
    check_shape(photo, "H W 3", "photo")
    out = photo.copy()
    height, width = photo.shape[:2]
    # |det| of the linear part of crop → photo is the face's area scale: paint the largest last.
    order = sorted(range(len(crops)), key=lambda i: abs(np.linalg.det(np.asarray(inverses[i])[:, :2])))
    for i in order:
        crop = crops[i]
        size = check_shape(crop, "S S 3", "crop")["S"]
        box = footprint(inverses[i], size, height, width)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        local = np.asarray(inverses[i], np.float64).copy()
        local[:, 2] -= (x0, y0)
        region = (x1 - x0, y1 - y0)
        warped = cv2.warpAffine(crop, local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        mask = cv2.warpAffine(
            feather_mask(size), local, region, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0
        )[..., None]
        base = out[y0:y1, x0:x1].astype(np.float32)
        blended = base + (warped.astype(np.float32) - base) * mask
        # Where mask == 0 the blend equals base exactly, so those pixels keep their input values.
        out[y0:y1, x0:x1] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return out
