"""A contact sheet of styles: each photo, then the same photo through every style, labelled.

``gpdface styles --gallery sheet.png --photo face.jpg`` writes one; the README's gallery is made by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .errors import GpdfaceError, InputError
from .face.detect import Detector
from .imageio import ImageSource, read_image

LABEL_HEIGHT = 28
PHOTO_LABEL = "photo"


@dataclass(frozen=True)
class Gallery:
    """The sheet and the styles it shows (``skipped``: style → why it is not on the sheet)."""

    sheet: np.ndarray
    styles: list[str]
    skipped: dict[str, str]


def style_gallery(
    photos: Sequence[ImageSource],
    styles: Sequence[str | Path],
    detector: Detector | str | None = None,
    device: str = "auto",
    tile: int = 256,
    on_style: Callable[[str], None] | None = None,
) -> Gallery:
    """Translate every photo with every style into one labelled ``H W 3`` uint8 sheet.

    Rows are photos, columns the photo itself then one style each (the style's own output mode is
    overridden to ``paste``; its background policy applies). A style that cannot be loaded is left off and
    named in ``skipped``; a photo without a face raises, as ``Translator`` does.

    Raises:
        InputError: a photo cannot be read, or no style is given.
        NoFaceError: a photo has no face.
    """
    from .options import DEFAULT_DETECTOR
    from .translator import Translator

    if not styles:
        raise InputError("no styles to show")
    images = [read_image(photo).rgb for photo in photos]
    if not images:
        raise InputError("no photo to show the styles on")
    shared_detector = detector if detector is not None else DEFAULT_DETECTOR
    columns: dict[str, list[np.ndarray]] = {PHOTO_LABEL: images}
    skipped: dict[str, str] = {}
    for style in styles:
        name = Path(style).name if isinstance(style, Path) else str(style)
        if on_style is not None:
            on_style(name)
        try:
            translator = Translator(style, device=device, detector=shared_detector, output="paste")
        except GpdfaceError as error:
            skipped[name] = str(error)
            continue
        shared_detector = translator.detector  # built once, reused by every style
        columns[name] = [translator(image).image for image in images]
    sheet = _compose(columns, tile)
    return Gallery(sheet, [n for n in columns if n != PHOTO_LABEL], skipped)


def _compose(columns: dict[str, list[np.ndarray]], tile: int) -> np.ndarray:
    """Columns side by side under their labels; each image fitted into a ``tile``-sided square cell (so a
    wide group photo beside a portrait does not widen every column)."""
    rows = len(next(iter(columns.values())))
    sheet = Image.new("RGB", (tile * len(columns), LABEL_HEIGHT + tile * rows), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    for c, (label, images) in enumerate(columns.items()):
        draw.text((c * tile + tile / 2, LABEL_HEIGHT / 2), label, fill="black", font=font, anchor="mm")
        for r, image in enumerate(images):
            height, width = image.shape[:2]
            scale = tile / max(height, width)
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            resized = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS)
            sheet.paste(resized, (c * tile + (tile - size[0]) // 2, LABEL_HEIGHT + r * tile + (tile - size[1]) // 2))
    return np.asarray(sheet)
