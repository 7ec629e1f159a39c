"""GPD's teacher stages on a folder of exemplars: align → project → adapt, with a report on the adapted teacher.

    python examples/adapt_teacher.py --shots ./five_sketches --teacher lfw64 --out runs/adapt

Writes projection.png (exemplar / reconstruction), adapt_*.png (G_s(w) above G_t(w)), adapt_curve.json
(the correspondence check every 25 steps) and report.json (correspondence, diversity and memorisation
figures). ``--correspondence-drop 0`` runs every step and keeps the last generator.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import to_tensor, to_uint8
from gpdface.train.data.pairs import align_images, find_shots
from gpdface.train.gpd.adapt import AdaptConfig, adapt
from gpdface.train.gpd.diagnostics import adaptation_report
from gpdface.train.gpd.invert import project
from gpdface.train.gpd.stages import GPDSettings
from gpdface.train.teachers import load_teacher
from gpdface.train.visual import save_grid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--teacher", default="lfw64")
    parser.add_argument("--out", type=Path, default=Path("runs/adapt"))
    parser.add_argument("--projection-steps", type=int, default=300)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--correspondence-drop", type=float, default=None, help="default: the finetune default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--correspondence-weight", type=float, default=AdaptConfig.correspondence_weight)
    parser.add_argument("--aligned", action="store_true")
    args = parser.parse_args()
    times = {}

    started = time.perf_counter()
    teacher = load_teacher(args.teacher)
    detector = None if args.aligned else RetinaFaceDetector()
    crops = align_images(find_shots(args.shots), detector, teacher.resolution, teacher.template)
    targets = torch.stack([to_tensor(c) for c in crops])
    times["align_s"] = time.perf_counter() - started

    started = time.perf_counter()
    torch.manual_seed(args.seed)
    anchors = project(teacher, targets, steps=args.projection_steps)
    save_grid(args.out / "projection.png", [list(crops), list(to_uint8(anchors.reconstructions))], tile=96)
    times["project_s"] = time.perf_counter() - started
    print(f"projected {len(crops)} exemplars, mean error {anchors.errors.mean():.3f}")

    started = time.perf_counter()
    drop = GPDSettings().adapt.correspondence_drop if args.correspondence_drop is None else args.correspondence_drop
    config = AdaptConfig(
        steps=args.steps, seed=args.seed, correspondence_weight=args.correspondence_weight, correspondence_drop=drop
    )
    adapted = adapt(
        teacher,
        targets,
        anchors.latents,
        config,
        args.out,
        on_step=lambda step, losses: print(f"adapt {step}/{config.steps} {losses}") if step % 50 == 0 else None,
    )
    times["adapt_s"] = time.perf_counter() - started

    report = {
        **adaptation_report(teacher, adapted, targets),
        "times": times,
        "projection_error": anchors.errors.tolist(),
        "threads": torch.get_num_threads(),
    }
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
