"""Build the default face bank archive that ``gpdface finetune --shots`` learns real faces from.

    python tools/make_facebank.py ../shared/assets/faces/lfw-deepfunneled -o OUT_DIR [--count 2000]

Selection: ``--count`` photos evenly spaced through the folder's sorted file list (LFW deep-funneled: 13,233
photos of 5,749 people, named ``Person_Name_NNNN.jpg``), the rule ``finetune --photos`` has always used; a
photo is kept when the project's RetinaFace finds exactly one face with score ≥ 0.9 in it. The people the
rule leaves out are the benchmarks' unseen people (``faceset.align_unseen_people``), so no benchmark face is
of a person in the bank; CUFS (the other test data) has no LFW people. Each kept face is aligned to the FFHQ
template at 256 px from its landmarks rounded to 1/100 px and stored as JPEG quality 95.

Writes ``OUT_DIR/<name>.zip`` (byte-identical for the same inputs on a machine with the pinned packages:
sorted order, fixed encoder settings, no timestamps), ``OUT_DIR/<name>.skipped.tsv`` and prints the
manifest entry (sha256, size) for ``facebanks`` in ``gpdface/weights_manifest.json``. Put ``OUT_DIR`` in
``GPDFACE_WEIGHTS_PATH`` to use the archive without a download.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from gpdface.face.detect import RetinaFaceDetector
from gpdface.train.data.facebank import DEFAULT_FACEBANK, build_facebank, write_facebank
from gpdface.train.progress import job_progress

LFW_LICENSE = "Labeled Faces in the Wild (LFW, deep-funneled): research use; photos of public figures from news media"
HUB_REPO = "gpdface/facebank-lfw-2000"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photos", type=Path, help="the folder of face photos (LFW deep-funneled)")
    parser.add_argument("-o", "--out", type=Path, required=True, help="folder to write the archive into")
    parser.add_argument("--count", type=int, default=2000, help="photos to take (evenly spaced)")
    parser.add_argument("--name", default=DEFAULT_FACEBANK, help="the bank's name (the archive's file name)")
    parser.add_argument("--license", default=LFW_LICENSE, help="terms of the photos")
    args = parser.parse_args()

    console = Console(stderr=True)
    selection = (
        f"{args.count} photos evenly spaced through the sorted file list of {args.photos.name}; "
        "kept when RetinaFace MobileNet-0.25 finds exactly one face with score >= 0.9"
    )
    with job_progress(console) as progress:
        task = progress.add_task("aligning", total=args.count, info="")
        bank, skipped = build_facebank(
            args.photos,
            RetinaFaceDetector(device="cpu"),
            args.count,
            args.license,
            "",
            on_photo=lambda done, total: progress.update(task, completed=done, total=total, info=f"{done}/{total}"),
        )
    bank = replace(bank, description=f"{len(bank)} aligned faces ({selection})")
    args.out.mkdir(parents=True, exist_ok=True)
    archive = write_facebank(args.out / f"{args.name}.zip", bank, selection)
    (args.out / f"{args.name}.skipped.tsv").write_text("".join(f"{n}\t{r}\n" for n, r in skipped))
    data = archive.read_bytes()
    entry = {
        args.name: {
            "description": bank.description,
            "files": {archive.name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}},
            "source": {
                "repo_id": HUB_REPO,
                "repo_type": "dataset",
                "revision": "main",
                "unpinned_reason": "the sha256 pins the archive's content; no published commit is known yet",
            },
            "license": args.license,
            "resolution": int(bank.images.shape[1]),
        }
    }
    console.print(f"{len(bank)} faces ({len(skipped)} photos left out) → {archive} ({len(data):,} bytes)")
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
