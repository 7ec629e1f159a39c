"""Pack aligned training faces small enough to travel to an accelerator machine (64 MiB for the whole tree).

    python tools/pack_aligned.py ../shared/assets/faces/lfw-deepfunneled --work RUN_DIR --resolution 128 \\
        --out .device/faces128 --max-mb 30

Reads the alignment cache of ``gpdface pretrain-teacher … --work RUN_DIR`` (aligning first where chunks are
missing, as that command would), leaves out the people ``benchmarks/teacher.py`` holds out (the same
``identity_holdout`` of the whole collection, so a teacher trained on the pack is checked on people it never
saw), and writes the rest as JPEGs under their own names, evenly spaced through the list until ``--max-mb``
is reached. Train on the pack with ``gpdface pretrain-teacher OUT --aligned --resolution R``; the device
script ``tools/device_pretrain.sh`` does that on a GPU and brings the teacher back.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
from rich.console import Console

from gpdface.face.align import template_for
from gpdface.face.detect import RetinaFaceDetector
from gpdface.train.data.faceset import align_collection, evenly_spaced, identity_holdout, write_aligned
from gpdface.train.progress import job_progress


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, help="the face collection pretrain-teacher aligned")
    parser.add_argument("--work", type=Path, required=True, help="that run's --work folder (its cache is reused)")
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--holdout", type=int, default=500, help="as benchmarks/teacher.py's --holdout")
    parser.add_argument("--out", type=Path, required=True, help="a new folder for the JPEGs")
    parser.add_argument("--max-mb", type=float, default=30.0, help="size budget of the pack")
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; choose a new folder")
    console = Console(stderr=True)
    with job_progress(console) as progress:
        task = progress.add_task("align (cached)", total=None, info="")
        faces = align_collection(
            args.photos, args.work / f"aligned_{args.resolution}", RetinaFaceDetector(), args.resolution,
            template_for(args.resolution),
            on_photo=lambda done, total: progress.update(task, completed=done, total=total),
        )  # fmt: skip
    train = faces.subset(~identity_holdout(faces.names, args.holdout))
    # the size of one face is measured on a sample, then the pack takes as many as the budget holds
    staging = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    sample = train.subset(evenly_spaced_mask(len(train), 200))
    per_face = sum(p.stat().st_size for p in write_aligned(sample, staging / "sample", args.quality)) / len(sample)
    shutil.rmtree(staging / "sample")
    count = min(len(train), int(args.max_mb * 2**20 / per_face))
    packed = train.subset(evenly_spaced_mask(len(train), count))
    size = sum(p.stat().st_size for p in write_aligned(packed, staging, args.quality)) / 2**20
    staging.rename(args.out)
    console.print(
        f"{len(packed)} of {len(train)} training faces ({len(faces) - len(train)} held out) → {args.out}: "
        f"{size:.1f} MiB"
    )


def evenly_spaced_mask(total: int, count: int) -> np.ndarray:
    """A boolean mask choosing ``count`` of ``total`` items evenly spaced (all when ``count >= total``)."""
    mask = np.zeros(total, bool)
    mask[evenly_spaced(list(range(total)), count)] = True
    return mask


if __name__ == "__main__":
    main()
