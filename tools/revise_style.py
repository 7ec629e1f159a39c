"""Revise a finished style without retraining it — one output filter, a tone layer — re-measure it and write
it as a new style folder.

    python tools/revise_style.py sketch OUT_DIR [--grey-output] [--tone-layer KNEE STRENGTH BLUR MIN_REFERENCE] \
        --pairs ../shared/assets/cufs/cuhk/train ... --eval ../shared/assets/cufs/ar/test --identity

- ``--grey-output``: ``gpdface finetune`` gives the student one output filter when every exemplar is grey
  (``gpdface.train.student.export.make_output_grey``); a style made before that rule, or before its limit allowed a
  scan's paper tint, keeps a faint colour from the photos (``sketch``: lavender highlights). This applies
  the same step to its weights.
- ``--tone-layer``: declares the graphite shade ``gpdface.tone_layer`` puts under the drawing where the
  photo is dark (``style.json``'s ``tone_layer``).

Each revision is recorded in the provenance, whose metrics are replaced by the revised style's own,
measured on ``Style.drawer`` (student and tone layer: what ``translate`` draws) by the same
``evaluate_pairs`` that ``finetune --eval`` runs (``--pairs``: the training pairs, reported as
``anchors``). The input style is never modified.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from pathlib import Path

import torch

from gpdface.face.detect import RetinaFaceDetector
from gpdface.style import Style, load_style
from gpdface.tone_layer import ToneLayer
from gpdface.train.data.pairs import align_pairs, find_pairs
from gpdface.train.evaluation.identity import IdentityScorer
from gpdface.train.evaluation.scores import evaluate_pairs
from gpdface.train.student.export import export_style, make_output_grey

GREY_NOTE = "three output channels averaged into one filter after training (tools/revise_style.py --grey-output)"
LAYER_NOTE = "tone layer declared after training (tools/revise_style.py --tone-layer); metrics include it"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style", help="style name or folder")
    parser.add_argument("out", type=Path, help="new style folder (must not exist)")
    parser.add_argument("--grey-output", action="store_true", help="give the student one output filter")
    parser.add_argument("--tone-layer", type=float, nargs=4, metavar=("KNEE", "STRENGTH", "BLUR", "MIN_REFERENCE"))
    parser.add_argument("--pairs", type=Path, action="append", default=[], help="training pairs (anchors)")
    parser.add_argument("--eval", type=Path, action="append", default=[], help="test pairs (repeatable)")
    parser.add_argument("--identity", action="store_true", help="identity rank-1 on the --eval sets (dev extra)")
    args = parser.parse_args()
    if args.out.exists():
        parser.error(f"{args.out} exists; give a new folder")
    if not args.grey_output and args.tone_layer is None:
        parser.error("nothing to revise: give --grey-output and/or --tone-layer")
    style = load_style(args.style)
    provenance = copy.deepcopy(style.info.provenance)
    model, info = style.model, style.info
    if args.grey_output:
        model = make_output_grey(model)
        provenance["output_grey"] = GREY_NOTE
    if args.tone_layer is not None:
        info = dataclasses.replace(info, tone_layer=ToneLayer(*args.tone_layer))
        provenance["tone_layer"] = LAYER_NOTE
    revised = Style(style.path, info, model)

    metrics = measure(revised, args.pairs, args.eval, IdentityScorer() if args.identity else None)
    if metrics:
        provenance["metrics"] = metrics
    export_style(args.out, model, dataclasses.replace(info, provenance=provenance))
    print(f"written {args.out}")


def measure(style: Style, train: list[Path], tests: list[Path], identity: IdentityScorer | None) -> dict:
    """``finetune``'s evaluation of the style's drawer: the training pairs together, each test folder alone."""
    detector, device = RetinaFaceDetector(), torch.device("cpu")

    def scores(folders: list[Path], with_identity: bool) -> dict:
        files = [pair for folder in folders for pair in find_pairs(folder)]
        pairs = align_pairs(files, detector, style.info.crop_size, style.info.template_array())
        return evaluate_pairs(style.drawer, pairs, device, identity=identity if with_identity else None)

    metrics = {"anchors": scores(train, False)} if train else {}
    for folder in tests:
        metrics[str(folder)] = scores([folder], True)
        print(f"{folder}: " + ", ".join(f"{k} {v:.4f}" for k, v in metrics[str(folder)].items()))
    return metrics


if __name__ == "__main__":
    main()
