"""Make a finished style draw exactly grey, re-measure it and write it as a new style folder.

    python tools/grey_output.py sketch OUT_DIR --pairs ../shared/assets/cufs/cuhk/train ... \
        --eval ../shared/assets/cufs/ar/test --eval ../shared/assets/cufs/xm2vts/test --identity

``gpdface finetune`` gives the student one output filter when every exemplar is grey
(``gpdface.train.export.make_output_grey``); a style made before that rule, or before its limit allowed a
scan's paper tint, keeps a faint colour from the photos (``sketch``: lavender highlights). This applies the
same step to its weights, records it in the provenance, and replaces the provenance's metrics with the new
weights' own, measured by the same ``evaluate_pairs`` that ``finetune --eval`` runs (``--pairs``: the
training pairs, reported as ``anchors``). The input style is never modified.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from pathlib import Path

import torch

from gpdface.face.detect import RetinaFaceDetector
from gpdface.style import load_style
from gpdface.train.data import align_pairs, find_pairs
from gpdface.train.evaluate import evaluate_pairs
from gpdface.train.export import export_style, make_output_grey
from gpdface.train.identity import IdentityScorer

NOTE = "three output channels averaged into one filter after training (tools/grey_output.py, make_output_grey)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style", help="style name or folder")
    parser.add_argument("out", type=Path, help="new style folder (must not exist)")
    parser.add_argument("--pairs", type=Path, action="append", default=[], help="training pairs (anchors)")
    parser.add_argument("--eval", type=Path, action="append", default=[], help="test pairs (repeatable)")
    parser.add_argument("--identity", action="store_true", help="identity rank-1 on the --eval sets (dev extra)")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new folder")
    style = load_style(args.style)
    model = make_output_grey(style.model)
    detector = RetinaFaceDetector()
    identity = IdentityScorer() if args.identity else None
    device = torch.device("cpu")

    def measure(folders: list[Path], with_identity: bool) -> dict:
        files = [pair for folder in folders for pair in find_pairs(folder)]
        pairs = align_pairs(files, detector, style.info.crop_size, style.info.template_array())
        return evaluate_pairs(model, pairs, device, identity=identity if with_identity else None)

    provenance = copy.deepcopy(style.info.provenance)
    metrics = {"anchors": measure(args.pairs, False)} if args.pairs else {}
    for folder in args.eval:
        metrics[str(folder)] = measure([folder], True)
        print(f"{folder}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics[str(folder)].items()))
    provenance["output_grey"] = NOTE
    if metrics:
        provenance["metrics"] = metrics
    export_style(args.out, model, dataclasses.replace(style.info, provenance=provenance))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
