"""How well could any student score in a given frame? The artist's sketch through the frame, per resolution.

    python benchmarks/frame_oracle.py --test ../shared/assets/cufs/ar/test \
        --test ../shared/assets/cufs/xm2vts/test --resolution 64 128 256 --out frame_oracle.json

Every test pair is aligned with a teacher's template (the default teacher's unless --teacher), then the
artist's sketch itself is warped into the aligned crop at each --resolution and back into the photo's
frame, and scored against itself with the protocol of ``benchmarks/quality.py`` (grey; SSIM Gaussian
σ 1.5; FSIM piq; the grey photo outside the crop). This is the ceiling of a student that draws its
training target perfectly: what the crop's resolution and footprint lose, no student can win back. The
grey photo is reported as the floor. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from emit import emit

from gpdface.face.detect import RetinaFaceDetector
from gpdface.train.data.pairs import align_pairs, find_pairs
from gpdface.train.evaluation.scores import mean_grey_scores, sketch_through_frame
from gpdface.train.teachers import load_teacher
from gpdface.train.teachers.registry import DEFAULT_TEACHER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", type=Path, action="append", required=True)
    parser.add_argument("--teacher", default=DEFAULT_TEACHER, help="whose template aligns the pairs")
    parser.add_argument("--resolution", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    teacher = load_teacher(args.teacher)
    files = [p for d in args.test for p in find_pairs(d)]
    pairs = align_pairs(files, RetinaFaceDetector(), teacher.resolution, teacher.template)
    report = {
        "test_dirs": [str(d) for d in args.test], "teacher_frame": args.teacher, "test_pairs": len(pairs),
        "protocol": "grey, photo frame (grey photo outside the crop); SSIM Gaussian σ 1.5; FSIM piq",
        "grey_photo_floor": mean_grey_scores(pairs.sources, pairs.targets),
        "sketch_through_frame": {
            str(size): mean_grey_scores(sketch_through_frame(pairs, size), pairs.targets) for size in args.resolution
        },
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
    }  # fmt: skip
    report["seconds"] = time.perf_counter() - started
    emit(report, args.out)


if __name__ == "__main__":
    main()
