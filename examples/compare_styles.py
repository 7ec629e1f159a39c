"""Photos through several styles side by side, one row per photo: the README's before/after pictures.

    python examples/compare_styles.py --style sketch --style path/to/older_sketch \
        --photo examples/data/astronaut.jpg --photo group.jpg --out comparison.png [--zoom 0.45 0.3 256]

Each column is ``gpdface translate`` with that style (the public ``Translator``, paste mode, the style's own
background); the first column is the photo. ``--zoom X Y SIZE`` also writes ``<out>_zoom.png``: a
SIZE-pixel window at (X, Y) — shares of the first photo's width and height — at 100 %, from each column, so
strokes can be seen. ``--crops SIZE`` also writes ``<out>_crops.png``: one row per face of every photo, the
aligned photo then each style's aligned drawing (``--output crop``), SIZE pixels square — faces side by side
without the surroundings. Needs the detector weights (``GPDFACE_WEIGHTS_PATH`` on an offline machine).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from gpdface import TranslationResult, Translator
from gpdface.imageio import read_image, write_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", required=True)
    parser.add_argument("--photo", type=Path, action="append", required=True)
    parser.add_argument("--height", type=int, default=384, help="row height of the picture")
    parser.add_argument("--zoom", type=float, nargs=3, default=None, metavar=("X", "Y", "SIZE"))
    parser.add_argument("--crops", type=int, default=None, metavar="SIZE", help="also write every face's crops")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    translators = [Translator(style, device="cpu", output="paste") for style in args.style]
    rows, first_row, face_rows = [], None, []
    for photo in args.photo:
        image = read_image(photo).rgb
        results = [translator(image) for translator in translators]
        row = [image] + [result.image for result in results]
        first_row = first_row or row
        rows.append(np.hstack([fit_height(column, args.height) for column in row]))
        if args.crops is not None:
            face_rows += crop_rows(image, results, args.crops)
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_image(args.out, np.vstack(rows))
    if face_rows:
        write_image(args.out.with_name(f"{args.out.stem}_crops{args.out.suffix}"), np.vstack(face_rows))
    if args.zoom is not None:
        x, y, size = args.zoom
        height, width = first_row[0].shape[:2]
        x0, y0, side = int(x * width), int(y * height), int(size)
        windows = [column[y0 : y0 + side, x0 : x0 + side] for column in first_row]
        write_image(args.out.with_name(f"{args.out.stem}_zoom{args.out.suffix}"), np.hstack(windows))


def crop_rows(image: np.ndarray, results: list[TranslationResult], size: int) -> list[np.ndarray]:
    """Per face: the photo warped into the first style's aligned frame, then each style's drawing of it.

    Every style detects the same faces in the same order (one detector), so the i-th face of each result is
    the same person; a style whose crop is of another size is resized to ``size``.
    """
    rows = []
    for i, face in enumerate(results[0].faces):
        side = face.crop.shape[0]
        photo = cv2.warpAffine(image, face.matrix, (side, side), flags=cv2.INTER_LINEAR)
        tiles = [photo] + [result.faces[i].crop for result in results]
        rows.append(np.hstack([cv2.resize(tile, (size, size), interpolation=cv2.INTER_AREA) for tile in tiles]))
    return rows


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    width = round(image.shape[1] * height / image.shape[0])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


if __name__ == "__main__":
    main()
