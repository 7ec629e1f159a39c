"""Styles side by side on photo/sketch test pairs, in one run: SSIM, FSIM and identity rank-1.

    python benchmarks/style_quality.py --style sketch --style path/to/older_sketch \
        --test ../shared/assets/cufs/ar/test --test ../shared/assets/cufs/xm2vts/test --out result.json

Each style is scored with the field's protocol through the same ``evaluate_pairs`` that ``gpdface finetune
--eval`` runs: its drawing of each test photo (aligned to the style's template at its crop size) is pasted
back into the photo's own frame, the grey photo outside the crop, both grey; SSIM (Gaussian σ 1.5,
population covariance) and FSIM (piq). Rows for the grey photo itself (the floor) and, for identity, the
artists' own sketches: sketch → photo rank-1 with dlib's ResNet descriptor over each test set (needs the
dev extra; skipped with a note otherwise). ``tone_response``: how much a style's drawing of a face darkens
when its photo is darkened (γ = 2), as a share of the photo's change — about 0 for a style that draws
every skin tone alike. ``tone_across_faces``: how the drawings' skin tone (the face region's median grey)
follows the photos' across the test faces — slope, darkest and lightest tenth — beside the artists' own.
With ``--faces DIR`` (a folder of real photos, e.g. LFW) also ``tone_across_faces``
on photos of people outside the face bank ``finetune --photos DIR`` draws from: how the drawing's face tone
follows the photo's across people (slope; darkest and lightest tenth) — what ``tone_response``, a studio
photo darkened by a curve, does not see. Prints one JSON document; --grid-dir saves picture grids.
"""

from __future__ import annotations

import argparse
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from emit import emit

from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import to_tensor, to_uint8
from gpdface.recipe import FinetuneRecipe
from gpdface.style import load_style
from gpdface.train.data.faceset import align_unseen_people
from gpdface.train.data.pairs import AlignedPairs, align_pairs, find_pairs
from gpdface.train.evaluation.identity import optional_identity_scorer
from gpdface.train.evaluation.scores import (
    evaluate_pairs,
    skin_tone,
    stylize_in_frame,
    tone_across_faces,
    tone_response,
    tone_spread,
)
from gpdface.train.visual import save_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", required=True, help="style name or folder (repeatable)")
    parser.add_argument("--label", action="append", default=None, help="a name per --style for the report")
    parser.add_argument("--test", type=Path, action="append", required=True, help="pairs folder (repeatable)")
    parser.add_argument("--faces", type=Path, default=None, help="folder of real face photos (tone across people)")
    parser.add_argument("--faces-count", type=int, default=400, help="photos of unseen people to draw")
    parser.add_argument(
        "--faces-bank", type=int, default=FinetuneRecipe.photos_limit,
        help="size of the face bank finetune took from --faces; its people are left out",
    )  # fmt: skip
    parser.add_argument("--grid-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    labels = args.label or args.style
    if len(labels) != len(args.style):
        parser.error("give one --label per --style")
    started = time.perf_counter()
    device = torch.device("cpu")
    detector = RetinaFaceDetector()
    identity, missing = optional_identity_scorer()
    note = missing or "sketch → photo rank-1, dlib ResNet descriptor, photo geometry for every image"
    report: dict = {
        "protocol": "photo frame (grey photo outside the crop), grey; SSIM Gaussian σ 1.5; FSIM piq",
        "identity": note,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "styles": dict(zip(labels, args.style, strict=True)),
        "results": {},
    }
    styles = {label: load_style(name) for label, name in zip(labels, args.style, strict=True)}
    for folder in args.test:
        files = find_pairs(folder)
        per_set: dict = {}
        drawn_rows = {}
        for index, (label, style) in enumerate(styles.items()):
            pairs = align_pairs(files, detector, style.info.crop_size, style.info.template_array())
            scores = evaluate_pairs(style.drawer, pairs, device, with_floor=index == 0, identity=identity)
            scores["tone_response"] = tone_response(style.drawer, pairs, device)
            crops = [pairs.crops(i) for i in range(len(pairs))]
            scores["tone_across_faces"] = asdict(
                tone_across_faces(style.drawer, np.stack([x for x, _ in crops]), device)
            )
            if index == 0:
                floor = {"ssim": scores.pop("ssim_photo"), "pairs": scores["pairs"]}
                if "fsim_photo" in scores:
                    floor["fsim"] = scores.pop("fsim_photo")
                per_set["grey photo (floor)"] = floor
                artists = {
                    "pairs": scores["pairs"],
                    "tone_across_faces": asdict(tone_spread(*zip(*crops, strict=True))),
                }
                if "rank1_artist" in scores:
                    artists["rank1"] = scores.pop("rank1_artist")
                per_set["artists' sketches"] = artists
            per_set[label] = scores
            drawn_rows[label] = (pairs, style)
        report["results"][str(folder)] = per_set
        if args.grid_dir is not None:
            write_grid(args.grid_dir / f"{folder.parent.name}_{folder.name}.png", drawn_rows, device)
    if args.faces is not None:
        report["faces"] = score_faces(args, styles, detector, device)
    report["seconds"] = time.perf_counter() - started
    emit(report, args.out)


def score_faces(args, styles: dict, detector, device) -> dict:
    """``tone_across_faces`` of every style on photos of people outside the face bank."""
    first = next(iter(styles.values())).info
    faces = align_unseen_people(args.faces, args.faces_bank, args.faces_count, detector, first.crop_size,
                                first.template_array())  # fmt: skip
    report: dict = {"folder": str(args.faces), "bank": args.faces_bank, "skipped": len(faces.skipped), "styles": {}}
    for label, style in styles.items():
        if style.info.crop_size != first.crop_size or not np.allclose(
            style.info.template_array(), first.template_array()
        ):
            raise SystemExit(f"{label}: --faces needs every style in the same frame as the first")
        report["styles"][label] = asdict(tone_across_faces(style.drawer, faces.images, device))
    if args.grid_dir is not None:
        write_tone_grid(args.grid_dir / "faces_by_tone.png", faces.images, styles, device)
    return report


@torch.inference_mode()
def write_tone_grid(path: Path, crops: np.ndarray, styles: dict, device, count: int = 8) -> None:
    """Rows: aligned photos from darkest to lightest face, then each style's drawing of them."""
    order = np.argsort([skin_tone(crop) for crop in crops], kind="stable")  # the metric's own tone
    picks = crops[order[np.linspace(0, len(order) - 1, count).round().astype(int)]]
    rows = [list(picks)]
    for style in styles.values():
        drawer = style.drawer.eval()
        rows.append(list(to_uint8(drawer(torch.stack([to_tensor(c) for c in picks]).to(device)).float())))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=160)


def write_grid(path: Path, drawn_rows: dict, device, count: int = 6) -> None:
    """Rows: test photo, artist's sketch, then each style's drawing, in the photo frame."""
    first_pairs = next(iter(drawn_rows.values()))[0]
    picks = np.linspace(0, len(first_pairs) - 1, count).round().astype(int)
    rows = [[first_pairs.sources[i] for i in picks], [first_pairs.targets[i] for i in picks]]
    for pairs, style in drawn_rows.values():
        chosen = AlignedPairs(
            [pairs.names[i] for i in picks], [pairs.sources[i] for i in picks], [pairs.targets[i] for i in picks],
            [pairs.matrices[i] for i in picks], pairs.crop_size,
        )  # fmt: skip
        rows.append(stylize_in_frame(style.drawer, chosen, device))
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=200)


if __name__ == "__main__":
    main()
