"""Did a few-shot style learn its exemplars' look without copying them, and does it keep who the person is?

    python benchmarks/catalogue.py --style lineart --exemplars examples/exemplars/lorelei \
        --test ../shared/assets/cufs/ar/test --test ../shared/assets/cufs/xm2vts/test --out result.json

For each style, the test photos (the sources of the pairs folders; their sketches are not used) are aligned
to the style's frame and drawn by it; its exemplars are aligned exactly as ``gpdface finetune --shots`` aligns
them (``--landmarks`` points where the folder has a ``landmarks.json``). Distances are mean absolute grey
differences of the 64 px crops, in [0, 1]:

- ``nearest_exemplar``: each drawing's distance to its nearest exemplar (mean and minimum over the photos),
  next to ``exemplar_spread``, each exemplar's distance to its nearest *other* exemplar. A style that
  reproduces an exemplar draws faces far closer to it than the exemplars are to one another.
- ``drawing_spread``: each drawing's distance to its nearest other drawing, next to ``photo_spread``, the
  same for the grey photos: a style that draws one face for everyone has a spread near 0.
- identity (dev extra: dlib): the ResNet descriptor distance from each drawing to its own photo and to the
  other photos of its set, and sketch → photo rank-1 (``gpdface.train.evaluation.identity``), next to the same for the
  grey photos themselves (dlib's "same person" threshold is 0.6).
- ``tone_response``: how much a drawing darkens when its photo does (0: every skin tone drawn alike).

Prints one JSON document; ``--grid`` saves exemplars, photos and drawings side by side.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch
from emit import emit
from PIL import Image

from gpdface.face.detect import RetinaFaceDetector
from gpdface.style import load_style
from gpdface.train.data.landmarks import landmarks_for, read_landmarks
from gpdface.train.data.pairs import AlignedPairs, align_images, align_pairs, find_pairs, find_shots
from gpdface.train.evaluation.identity import IdentityScorer, optional_identity_scorer
from gpdface.train.evaluation.scores import stylize_in_frame, tone_response
from gpdface.train.visual import save_grid

SIDE = 64  # distances on 64 px grey crops: the look (where the dark masses and lines are), not the grain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", required=True, help="style name or folder (repeatable)")
    parser.add_argument("--exemplars", type=Path, action="append", required=True, help="one per --style")
    parser.add_argument("--test", type=Path, action="append", required=True, help="pairs folder (repeatable)")
    parser.add_argument("--grid", type=Path, default=None, help="folder for one picture per style")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if len(args.exemplars) != len(args.style):
        parser.error("give one --exemplars folder per --style")
    started = time.perf_counter()
    device = torch.device("cpu")
    detector = RetinaFaceDetector()
    identity, missing = optional_identity_scorer()
    note = missing or "dlib ResNet descriptor, photo geometry for every image"
    files = [pair for folder in args.test for pair in find_pairs(folder)]
    report: dict = {
        "distance": f"mean absolute grey difference of {SIDE} px aligned crops, in [0, 1]",
        "identity": note,
        "test": [str(folder) for folder in args.test],
        "photos": len(files),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "styles": {},
    }
    for name, folder in zip(args.style, args.exemplars, strict=True):
        style = load_style(name)
        size, template = style.info.crop_size, style.info.template_array()
        photos = align_pairs(files, detector, size, template)
        exemplars = aligned_exemplars(folder, detector, size, template)
        drawings = draw(style.drawer, photos, device)
        entry = look_figures(exemplars, drawings, [photos.crops(i)[0] for i in range(len(photos))])
        entry["tone_response"] = tone_response(style.drawer, photos, device)
        if identity is not None:
            entry["identity"] = identity_figures(identity, photos, style.drawer, device)
        report["styles"][name] = entry
        if args.grid is not None:
            write_grid(args.grid / f"{Path(name).name}.png", exemplars, photos, drawings)
    report["seconds"] = round(time.perf_counter() - started, 1)
    emit(report, args.out)


def aligned_exemplars(folder: Path, detector, size: int, template: np.ndarray) -> list[np.ndarray]:
    """The exemplars in the style's frame, aligned as ``finetune --shots`` aligns them."""
    paths = find_shots(folder)
    points = folder / "landmarks.json"
    given = landmarks_for(paths, read_landmarks(points), points) if points.is_file() else {}
    return list(align_images(paths, detector, size, template, given))


@torch.no_grad()
def draw(model, photos: AlignedPairs, device: torch.device) -> list[np.ndarray]:
    """The style's drawing of every aligned photo (crops, not pasted)."""
    from gpdface.imageio import to_tensor, to_uint8

    out = []
    for index in range(len(photos)):
        crop = photos.crops(index)[0]
        out.append(to_uint8(model.eval()(to_tensor(crop)[None].to(device)).float())[0])
    return out


def _small_grey(images: list[np.ndarray]) -> np.ndarray:
    small = [Image.fromarray(image).convert("L").resize((SIDE, SIDE), Image.BILINEAR) for image in images]
    return np.stack([np.asarray(image, np.float32) / 255 for image in small]).reshape(len(images), -1)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a[:, None, :] - b[None, :, :]).mean(axis=2)


def _nearest_other(images: np.ndarray) -> np.ndarray:
    d = _distances(images, images)
    np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def look_figures(exemplars: list[np.ndarray], drawings: list[np.ndarray], photos: list[np.ndarray]) -> dict:
    """Copying and collapse figures (module docstring) on aligned crops."""
    e, d, p = _small_grey(exemplars), _small_grey(drawings), _small_grey(photos)
    to_exemplar = _distances(d, e).min(axis=1)
    return {
        "exemplars": len(exemplars),
        "nearest_exemplar": {"mean": float(to_exemplar.mean()), "min": float(to_exemplar.min())},
        "exemplar_spread": float(_nearest_other(e).mean()),
        "drawing_spread": float(_nearest_other(d).mean()),
        "photo_spread": float(_nearest_other(p).mean()),
    }


def identity_figures(identity: IdentityScorer, photos: AlignedPairs, model, device: torch.device) -> dict:
    """Descriptor distances of the drawings (in the photo frame) to their own and to other photos."""
    gallery = identity.descriptors(photos)
    drawn = identity.rank1(photos, stylize_in_frame(model, photos, device), gallery)
    grey = [np.repeat(np.asarray(Image.fromarray(s).convert("L"))[..., None], 3, axis=2) for s in photos.sources]
    floor = identity.rank1(photos, grey, gallery)
    return {"drawing": drawn.to_dict(), "grey photo": floor.to_dict()}


def write_grid(path: Path, exemplars, photos: AlignedPairs, drawings, count: int = 8) -> None:
    picks = np.linspace(0, len(photos) - 1, count).round().astype(int)
    rows = [list(exemplars[:count]), [photos.crops(int(i))[0] for i in picks], [drawings[int(i)] for i in picks]]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=160)


if __name__ == "__main__":
    main()
