"""Rasterise the avatars of ``render.mjs`` into exemplar PNGs, with five landmarks per image.

    cd tools/exemplars && npm ci && node render.mjs > avatars.json
    python make_exemplars.py avatars.json --out ../../examples/exemplars --check landmarks_check.png

Writes ``OUT/<style>/<seed>.png`` (white background, ``--size`` px square), ``OUT/<style>/landmarks.json``
(``{file name: [[x, y] × 5]}``: the eyes as seen, the nose tip, the mouth corners, in pixels — what
``gpdface finetune --landmarks`` reads) and ``OUT/<style>/source.json`` (package, version, seed and options of
every file, so the exact images can be made again).

The face detector misses most drawn faces, so the landmarks come from the drawing itself: ``render.mjs`` draws
the parts that hold the eyes, the nose and the mouth alone in the avatar's frame, and their ink gives the
points — each eye's ink centroid, the nose's centre column at the lower part of its ink, the mouth's leftmost
and rightmost ink. ``open-peeps`` draws eyes and mouth as one ``face`` part: its largest lower stroke is the
mouth, the lowest stroke of the upper half on each side an eye (the brows sit above), and the nose (often
not drawn) sits between them.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import cv2
import numpy as np
import resvg_py
from PIL import Image, ImageDraw

Points = list[list[float]]


def main() -> None:
    args = parse_args()
    avatars = json.loads(args.avatars.read_text())
    checks: list[Image.Image] = []
    for style in sorted({a["style"] for a in avatars}):
        folder = args.out / style
        folder.mkdir(parents=True, exist_ok=True)
        landmarks, sources = {}, {}
        for avatar in (a for a in avatars if a["style"] == style):
            name = f"{avatar['seed']}.png"
            image = rasterise(avatar["svg"], args.size, background="#ffffff").convert("RGB")
            image.save(folder / name, optimize=True)
            points = landmarks_of(avatar["parts"], args.size)
            landmarks[name] = [[round(x, 1), round(y, 1)] for x, y in points]
            sources[name] = {k: avatar[k] for k in ("package", "seed", "options")}
            checks.append(marked(image, points))
        (folder / "landmarks.json").write_text(json.dumps(landmarks, indent=1) + "\n")
        (folder / "source.json").write_text(json.dumps(sources, indent=1) + "\n")
        print(f"{style}: {len(landmarks)} exemplars → {folder}")
    if args.check is not None:
        contact_sheet(checks, columns=10).save(args.check)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("avatars", type=Path, help="the JSON that render.mjs prints")
    parser.add_argument("--out", type=Path, default=Path("../../examples/exemplars"))
    parser.add_argument("--size", type=int, default=768, help="side of the PNGs in pixels")
    parser.add_argument("--check", type=Path, default=None, help="a contact sheet with the landmarks drawn")
    return parser.parse_args()


def rasterise(svg: str, size: int, background: str | None = None) -> Image.Image:
    png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size, background=background)
    return Image.open(io.BytesIO(bytes(png))).convert("RGBA")


def ink(svg: str, size: int) -> tuple[np.ndarray, np.ndarray]:
    """x and y of the pixels a part covers."""
    alpha = np.asarray(rasterise(svg, size))[..., 3]
    ys, xs = np.nonzero(alpha > 127)
    if xs.size == 0:
        raise ValueError("a face part draws nothing")
    return xs.astype(np.float64), ys.astype(np.float64)


def landmarks_of(parts: dict[str, str], size: int) -> Points:
    if "face" in parts:
        return face_landmarks(*ink(parts["face"], size))
    eyes = eye_centres(*ink(parts["eyes"], size))
    return [*eyes, nose_tip(*ink(parts["nose"], size)), *mouth_corners(*ink(parts["mouth"], size))]


def eye_centres(xs: np.ndarray, ys: np.ndarray) -> Points:
    middle = (xs.min() + xs.max()) / 2
    return [[xs[side].mean(), ys[side].mean()] for side in (xs < middle, xs >= middle)]


def nose_tip(xs: np.ndarray, ys: np.ndarray) -> list[float]:
    return [xs.mean(), float(np.percentile(ys, 80))]


def mouth_corners(xs: np.ndarray, ys: np.ndarray) -> Points:
    return [[xs.min(), ys[xs <= xs.min() + 2].mean()], [xs.max(), ys[xs >= xs.max() - 2].mean()]]


def face_landmarks(xs: np.ndarray, ys: np.ndarray) -> Points:
    """Eyes, nose and mouth of a part that draws them together: the mouth is its largest stroke in the lower
    part of the ink, each eye the lowest stroke of the upper half on its side of the mouth (brows sit above)."""
    strokes = _strokes(xs, ys)
    top, height = ys.min(), ys.max() - ys.min()
    lower = [s for s in strokes if s[1].mean() > top + 0.6 * height]
    mouth = mouth_corners(*max(lower, key=lambda s: s[0].size))
    centre = (mouth[0][0] + mouth[1][0]) / 2
    upper = [s for s in strokes if s[1].mean() < top + 0.5 * height]
    eyes = []
    for side in (lambda x: x < centre, lambda x: x >= centre):
        candidates = [s for s in upper if side(s[0].mean()) and s[0].size > 20]
        if not candidates:  # both eyes in one stroke (glasses, a squint line): that side of it
            joined = np.concatenate([s[0] for s in upper]), np.concatenate([s[1] for s in upper])
            candidates = [(joined[0][side(joined[0])], joined[1][side(joined[0])])]
        lowest = max(candidates, key=lambda s: s[1].mean())
        eyes.append([lowest[0].mean(), lowest[1].mean()])
    eye_mid, mouth_mid = np.mean(eyes, axis=0), np.mean(mouth, axis=0)
    nose = eye_mid + 0.6 * (mouth_mid - eye_mid)
    return [*eyes, nose.tolist(), *mouth]


def _strokes(xs: np.ndarray, ys: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The connected pieces of ink (8-connected), each as its pixels' x and y."""
    mask = np.zeros((int(ys.max()) + 1, int(xs.max()) + 1), np.uint8)
    mask[ys.astype(int), xs.astype(int)] = 1
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    pieces = []
    for label in range(1, count):
        py, px = np.nonzero(labels == label)
        pieces.append((px.astype(np.float64), py.astype(np.float64)))
    return pieces


def marked(image: Image.Image, points: Points) -> Image.Image:
    copy = image.copy()
    draw = ImageDraw.Draw(copy)
    radius = max(2, image.width // 150)
    for (x, y), colour in zip(points, ("red", "red", "lime", "blue", "blue"), strict=True):
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    return copy.resize((192, 192), Image.Resampling.LANCZOS)


def contact_sheet(tiles: list[Image.Image], columns: int) -> Image.Image:
    rows = -(-len(tiles) // columns)
    sheet = Image.new("RGB", (columns * tiles[0].width, rows * tiles[0].height), "white")
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * tile.width, (i // columns) * tile.height))
    return sheet


if __name__ == "__main__":
    main()
