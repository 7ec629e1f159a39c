"""Does the coarse-to-fine detector find every face ≥ scan_face px that the one-pass detector finds, and how
much faster is it?

    python benchmarks/detection.py --photos 200 --out result.json

Both detectors are ``RetinaFaceDetector`` as ``translate`` builds it: ``one pass`` (``scan_face=None``: the
photo's ≤ 1024 px copy, then full-resolution refinement) and ``coarse`` (the default ``scan_face=40``: a copy
just large enough for a 40 px face, a finer pass only when it finds nothing, refinement of faces small in
the copy). Ground truth comes from the one-pass detector on each original photo (LFW 250×250, CUFS 200×250),
mapped into the test images:

- ``lfw_x4`` / ``cufs_x4``: each photo enlarged 4× (faces of ~400 px in ~1000 px photos, where the coarse
  pass runs on a smaller copy);
- ``groups``: 1024×1024 sheets of LFW photos scaled so that their faces are 24–96 px, tiled on grey
  (several faces of known size per picture).

For each set, detector and face size: recall (a ground-truth face is found when a detection's landmark
centre lies within 0.25 face sizes of its own and the sizes agree within 2×) and the landmark error of the
found faces as a share of their eye distance. Speed: one face in a 1024² photo (the astronaut), median of
``--repeats`` detections. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from emit import emit

from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import read_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "assets"
GROUP_SIZES = (24, 32, 40, 48, 64, 96)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=Path, default=SHARED)
    parser.add_argument("--photos", type=int, default=200, help="LFW and CUFS photos per set")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    detectors = {"one pass": RetinaFaceDetector(scan_face=None), "coarse": RetinaFaceDetector()}
    reference = detectors["one pass"]
    lfw = sorted((args.assets / "faces" / "lfw-deepfunneled").glob("*.jpg"))[::13][: args.photos]
    cufs = sorted((args.assets / "cufs").glob("*/*/photos/*.jpg"))[: args.photos]
    started = time.perf_counter()
    report: dict = {
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "ground truth": "the one-pass detector on each original photo, mapped into the test image",
        "sets": {},
    }
    originals = {name: _faces_of(reference, files) for name, files in (("lfw", lfw), ("cufs", cufs))}
    for name, pictures in (
        ("lfw_x4", _enlarged(originals["lfw"], 4)),
        ("cufs_x4", _enlarged(originals["cufs"], 4)),
        ("groups", _groups(originals["lfw"])),
    ):
        report["sets"][name] = {label: score(detector, pictures) for label, detector in detectors.items()}
    report["speed_1024_one_face_ms"] = speed(detectors, args.repeats)
    report["seconds"] = round(time.perf_counter() - started, 1)
    emit(report, args.out)


def _faces_of(detector, files: list[Path]) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(photo, landmarks, face size) of each photo with exactly one confident face."""
    out = []
    for path in files:
        photo = read_image(path).rgb
        faces = detector.detect(photo)
        if len(faces) == 1:
            out.append((photo, faces[0].landmarks.astype(np.float64), faces[0].size))
    return out


def _enlarged(originals, factor: int) -> list[tuple[np.ndarray, list[tuple[np.ndarray, float]]]]:
    pictures = []
    for photo, landmarks, size in originals:
        big = cv2.resize(photo, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        pictures.append((big, [(landmarks * factor + (factor - 1) / 2, size * factor)]))
    return pictures


def _groups(originals, side: int = 1024, per_sheet: int = 12):
    """Sheets of photos scaled to faces of each of GROUP_SIZES, tiled on grey, with their true faces."""
    pictures, index = [], 0
    for face_size in GROUP_SIZES:
        for _ in range(max(1, len(originals) // (per_sheet * len(GROUP_SIZES)))):
            sheet, truth = np.full((side, side, 3), 128, np.uint8), []
            x = y = row_height = 0
            for _ in range(per_sheet):
                photo, landmarks, size = originals[index % len(originals)]
                index += 1
                scale = face_size / size
                small = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                h, w = small.shape[:2]
                if x + w > side:
                    x, y, row_height = 0, y + row_height + 8, 0
                if y + h > side:
                    break
                sheet[y : y + h, x : x + w] = small
                truth.append((landmarks * scale + [x, y], float(face_size)))
                x, row_height = x + w + 8, max(row_height, h)
            pictures.append((sheet, truth))
    return pictures


def score(detector, pictures) -> dict:
    """Recall and landmark error by true face size, and seconds per picture."""
    by_size: dict[int, dict[str, list[float]]] = {}
    seconds = 0.0
    for picture, truth in pictures:
        began = time.perf_counter()
        found = detector.detect(picture)
        seconds += time.perf_counter() - began
        centres = np.array([f.landmarks.mean(axis=0) for f in found]).reshape(-1, 2)
        for landmarks, size in truth:
            bucket = by_size.setdefault(round(size) if size < 200 else 400, {"found": [], "error": []})
            distance = np.linalg.norm(centres - landmarks.mean(axis=0), axis=1) if len(found) else np.array([])
            near = [i for i in np.argsort(distance) if distance[i] < 0.25 * size and 0.5 < found[i].size / size < 2]
            bucket["found"].append(1.0 if near else 0.0)
            if near:
                eyes = np.linalg.norm(landmarks[0] - landmarks[1])
                bucket["error"].append(
                    float(np.linalg.norm(found[near[0]].landmarks - landmarks, axis=1).mean() / eyes)
                )
    return {
        "pictures": len(pictures),
        "ms_per_picture": round(1000 * seconds / max(1, len(pictures)), 1),
        "by_face_size": {
            str(size): {
                "faces": len(v["found"]),
                "recall": round(float(np.mean(v["found"])), 4),
                "landmark_error_eye_share": round(float(np.mean(v["error"])), 4) if v["error"] else None,
            }
            for size, v in sorted(by_size.items())
        },
    }


def speed(detectors: dict, repeats: int) -> dict[str, float]:
    from skimage import data

    photo = cv2.resize(data.astronaut(), (1024, 1024), interpolation=cv2.INTER_CUBIC)
    times = {}
    for label, detector in detectors.items():
        detector.detect(photo)  # warm-up
        runs = []
        for _ in range(repeats):
            began = time.perf_counter()
            detector.detect(photo)
            runs.append(time.perf_counter() - began)
        times[label] = round(1000 * float(np.median(runs)), 1)
    return times


if __name__ == "__main__":
    main()
