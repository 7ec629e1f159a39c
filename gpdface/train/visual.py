"""Sample grids: pictures of training progress, written atomically as PNG."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..imageio import write_image


def save_grid(path: str | Path, rows: Sequence[Sequence[np.ndarray]], tile: int = 128) -> Path:
    """Write rows of ``H W 3`` uint8 images as one PNG, each resized to ``tile`` px square."""
    if not rows or not rows[0]:
        raise ValueError("a grid needs at least one image")
    columns = max(len(r) for r in rows)
    grid = np.full((len(rows) * tile, columns * tile, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, image in enumerate(row):
            interp = cv2.INTER_AREA if image.shape[0] > tile else cv2.INTER_LINEAR
            grid[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile] = cv2.resize(
                image, (tile, tile), interpolation=interp
            )
    return write_image(path, grid)
