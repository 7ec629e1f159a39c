"""Faithfulness on unseen faces: does each style keep the person? The project's primary quality measure.

    python benchmarks/faithfulness.py --style sketch --style ink --style comic --style doodle \
        --lfw ../shared/assets/faces/lfw-deepfunneled --part report \
        --sheets benchmarks/results/faithfulness_sheets --out benchmarks/results/faithfulness.json

Faces: ``--count`` LFW photos of people outside the face bank (``tools/make_facebank.py``'s 2000-photo rule,
so no style was trained on them) with one confident face each, from one half of those people: ``--part dev``
for deciding anything, ``--part report`` for the figures reported as held out; plus every face of the
public-domain photos in ``examples/data`` (``--photo`` adds more). Each style draws the whole photo through
``Translator`` with its own defaults — what a user gets — and, in the same run, the grey photo (the
reference) and OpenCV's ``pencilSketch`` (the floor). Per way of drawing: faces found again by RetinaFace in
the drawing, landmark NME over the eye distance (all five points and the mouth corners), identity rank-1
(dlib's descriptor of each drawn face against every photo's face; needs the dev extra), the skin-tone
slope; and the same per stratum: head yaw, mouth width (a smile proxy), skin tone
(``gpdface.train.evaluation.faithfulness``). ``--sheets DIR`` writes, per way of drawing, the 12 faces it kept worst
(photo beside drawing, landmarks marked). ``--table`` prints the tables for a JSON written before.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from emit import emit

from gpdface.errors import NoFaceError
from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import write_image
from gpdface.train.evaluation.faithfulness import (
    IDENTITY_CROP,
    find_cases,
    grey_photo,
    identity_matrix,
    measure_face,
    opencv_pencil,
    rank1,
    summarise,
    unseen_people_photos,
    worst_faces_sheet,
)
from gpdface.train.evaluation.identity import optional_identity_scorer

REPO = Path(__file__).resolve().parents[1]
BASELINES = {"grey photo (reference)": grey_photo, "OpenCV pencilSketch (no model)": opencv_pencil}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", action="append", default=[], help="style name or folder (repeatable)")
    parser.add_argument("--label", action="append", default=None, help="a name per --style for the report")
    parser.add_argument("--lfw", type=Path, default=None, help="the LFW folder (unseen people are taken from it)")
    parser.add_argument("--bank-limit", type=int, default=2000, help="photos the face bank took from --lfw")
    parser.add_argument("--count", type=int, default=300, help="LFW photos of unseen people")
    parser.add_argument("--part", choices=("dev", "report"), default="dev", help="which half of those people")
    parser.add_argument("--photo", type=Path, action="append", default=[], help="more photos (every face counts)")
    parser.add_argument("--no-examples", action="store_true", help="leave out examples/data's photos")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sheets", type=Path, default=None, help="folder for the worst-12 sheets")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--table", type=Path, nargs="*", default=None, help="print the tables of these JSONs")
    args = parser.parse_args()
    if args.table is not None:
        for path in args.table:
            print(tables(json.loads(path.read_text())))
        return
    labels = args.label or args.style
    if len(labels) != len(args.style):
        parser.error("give one --label per --style, or none")

    started = time.perf_counter()
    detector = RetinaFaceDetector(device=args.device)
    paths = unseen_people_photos(args.lfw, args.bank_limit, args.count, args.part) if args.lfw else []
    cases = find_cases(paths, detector)
    extra = [*([] if args.no_examples else sorted((REPO / "examples" / "data").glob("*.jpg"))), *args.photo]
    cases += find_cases(extra, detector, every_face=True)
    identity, why_not = optional_identity_scorer()
    gallery = None
    if identity is not None:
        gallery = np.stack([identity.descriptor(c.photo, c.photo, identity_matrix(c), IDENTITY_CROP) for c in cases])
    report: dict = {
        "faces": len(cases), "lfw_photos": len(paths), "part": args.part, "other_photos": [str(p) for p in extra],
        "identity": "dlib ResNet descriptor, the photo's geometry" if identity else f"not measured: {why_not}",
        "detector": "RetinaFace MobileNet-0.25, threshold 0.8 (translate's); a face counts as found when its "
        "landmarks' centre is within half the eye distance of the photo's",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "strata": {kind: sorted({c.strata()[kind] for c in cases}) for kind in ("yaw", "mouth", "skin")},
        "results": {},
    }  # fmt: skip
    renderers = dict(BASELINES)
    for style, label in zip(args.style, labels, strict=True):
        renderers[label] = style_renderer(style, args.device)
    for label, render in renderers.items():
        began = time.perf_counter()
        drawings = [render(c.photo) for c in cases]
        results = [measure_face(c, d, detector.detect(d)) for c, d in zip(cases, drawings, strict=True)]
        correct = None
        if identity is not None:
            probes = np.stack(
                [
                    identity.descriptor(d, c.photo, identity_matrix(c), IDENTITY_CROP)
                    for c, d in zip(cases, drawings, strict=True)
                ]
            )
            correct = rank1(probes, gallery)
        report["results"][label] = summarise(cases, results, correct) | {"seconds": time.perf_counter() - began}
        if args.sheets is not None:
            args.sheets.mkdir(parents=True, exist_ok=True)
            name = "".join(ch if ch.isalnum() else "_" for ch in label).strip("_")
            write_image(args.sheets / f"worst12_{name}.png", worst_faces_sheet(cases, drawings, results))
        print(f"{label}: {report['results'][label]['all']}", flush=True)
    report["seconds"] = time.perf_counter() - started
    emit(report, args.out)
    print(tables(report))


def style_renderer(style: str, device: str):
    """A style as users get it: the whole photo through ``Translator`` with the style's own defaults."""
    from gpdface import Translator

    translator = Translator(style, device=device)

    def render(photo: np.ndarray) -> np.ndarray:
        try:
            return translator(photo).image
        except NoFaceError:  # the case's face was found on the photo by the same detector: rare
            return photo

    return render


def tables(report: dict) -> str:
    """Markdown tables: the overall figures, then each stratum's NME, mouth NME and rank-1."""
    rows = report["results"]
    lines = [
        f"{report['faces']} faces ({report['lfw_photos']} LFW photos of unseen people, part {report['part']}, "
        f"and {len(report['other_photos'])} other photos)",
        "",
        "| | found | NME | mouth NME | rank-1 | tone slope |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, row in rows.items():
        a = row["all"]
        rank, slope = a.get("rank1", float("nan")), a.get("tone_slope", float("nan"))
        lines.append(
            f"| {label} | {a['found']:.3f} | {a['nme']:.3f} | {a['mouth_nme']:.3f} | {rank:.3f} | {slope:.2f} |"
        )
    for kind in ("yaw", "mouth", "skin"):
        labels = report["strata"][kind]
        first = next(iter(rows.values()))[kind]
        counts = ", ".join(f"{label} {first[label]['faces']}" for label in labels)
        lines += ["", f"By {kind} ({counts}): mouth NME / rank-1", "", "| | " + " | ".join(labels) + " |"]
        lines.append("| --- " * (len(labels) + 1) + "|")
        for label, row in rows.items():
            cells = [f"{row[kind][s]['mouth_nme']:.3f} / {row[kind][s].get('rank1', float('nan')):.2f}" for s in labels]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
