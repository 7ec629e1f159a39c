"""Few-shot photo→sketch quality on CUFS, with the ablation, in one run.

    python benchmarks/quality.py \
        --train ../shared/assets/cufs/cuhk/train --train ../shared/assets/cufs/ar/train \
        --train ../shared/assets/cufs/xm2vts/train \
        --test ../shared/assets/cufs/ar/test --test ../shared/assets/cufs/xm2vts/test --out quality.json

For each K (--shots) and seed, K training pairs are drawn (seeded) and four students are trained and
evaluated on the test pairs:
1. ``anchors_only``  — the K pairs alone (anchor term only);
2. ``plain_distill`` — plus the teacher's rendered pairs, anchor-based terms off (c(w) ≡ 1, no relative
   or adversarial term);
3. ``gpd``           — full GPD (all terms);
4. ``ceiling``       — all training pairs, no teacher.
The grey test photo itself is reported as the floor. Metrics with the field's protocol (result mapped
back to the photo frame, grey): SSIM (Gaussian window σ 1.5, population covariance) and FSIM (piq);
mean ± std over seeds. All students work at the teacher's resolution (64 px for dcgan64), so the
four settings are compared at the same size. Prints one JSON document; --grid-dir saves picture grids.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import to_tensor
from gpdface.nets import StudentConfig
from gpdface.train.adapt import AdaptConfig, adapt
from gpdface.train.augment import read_shards, render_pairs
from gpdface.train.data import AlignedPairs, align_pairs, find_pairs
from gpdface.train.distill import DistillConfig, TeacherData, distill_student
from gpdface.train.evaluate import evaluate_pairs, stylize_in_frame
from gpdface.train.invert import project
from gpdface.train.teachers import load_teacher
from gpdface.train.visual import save_grid

SETTINGS = ("anchors_only", "plain_distill", "gpd", "ceiling")


def subset(pairs: AlignedPairs, indices) -> AlignedPairs:
    pick = [int(i) for i in indices]
    return AlignedPairs(
        [pairs.names[i] for i in pick],
        [pairs.sources[i] for i in pick],
        [pairs.targets[i] for i in pick],
        [pairs.matrices[i] for i in pick],
        pairs.crop_size,
    )


def teacher_data(teacher, anchors: AlignedPairs, args, seed: int, work: Path) -> TeacherData:
    """Project the K real photos, adapt G_t to their sketches, render pairs from shared latents."""
    sources = torch.stack([to_tensor(anchors.crops(i)[0]) for i in range(len(anchors))])
    targets = torch.stack([to_tensor(anchors.crops(i)[1]) for i in range(len(anchors))])
    torch.manual_seed(seed)
    latents = project(teacher, sources, steps=args.projection_steps).latents
    adapted = adapt(teacher, targets, latents, AdaptConfig(steps=args.adapt_steps, seed=seed), work)
    shards = list(read_shards(render_pairs(teacher, adapted, work / "pairs", args.rendered_pairs, seed=seed)))
    with torch.no_grad():
        anchor_teacher = adapted.synthesis(latents)
    return TeacherData.build(
        torch.cat([s.sources for s in shards]),
        torch.cat([s.targets for s in shards]),
        torch.cat([s.latents for s in shards]),
        latents,
        anchor_teacher,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, action="append", required=True)
    parser.add_argument("--test", type=Path, action="append", required=True)
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--teacher", default="dcgan64")
    parser.add_argument("--steps", type=int, default=400, help="distillation steps per student")
    parser.add_argument("--adapt-steps", type=int, default=300)
    parser.add_argument("--projection-steps", type=int, default=200)
    parser.add_argument("--rendered-pairs", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="tiny step counts, one K and seed: a smoke test")
    parser.add_argument("--work", type=Path, default=Path("runs/quality"))
    parser.add_argument("--grid-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.quick:
        args.shots, args.seeds = args.shots[:1], args.seeds[:1]
        args.steps, args.adapt_steps, args.projection_steps, args.rendered_pairs = 3, 2, 3, 16
    started = time.perf_counter()
    device = torch.device("cpu")
    teacher = load_teacher(args.teacher, device)
    detector = RetinaFaceDetector()
    size, template = teacher.resolution, teacher.template
    train = align_pairs([p for d in args.train for p in find_pairs(d)], detector, size, template)
    test = align_pairs([p for d in args.test for p in find_pairs(d)], detector, size, template)
    base = DistillConfig(
        steps=args.steps, student=StudentConfig(resolution=size), checkpoint_every=10**9, sample_every=10**9
    )
    scores: dict[str, dict[str, dict[int, list[float]]]] = {m: {s: {} for s in SETTINGS} for m in ("ssim", "fsim")}
    floor = evaluate_pairs_floor(test)
    for seed in args.seeds:
        ceiling = None
        for k in args.shots:
            chosen = np.random.default_rng(seed).choice(len(train), size=k, replace=False)
            anchors = subset(train, chosen)
            work = args.work / f"k{k}_seed{seed}"
            data = teacher_data(teacher, anchors, args, seed, work)
            plain = replace(data, confidence=torch.ones_like(data.confidence))
            models = {
                "anchors_only": distill_student(anchors, replace(base, seed=seed), work / "a", device),
                "plain_distill": distill_student(
                    anchors,
                    replace(base, seed=seed, relative_weight=0.0, adversarial_weight=0.0),
                    work / "p",
                    device,
                    teacher_data=plain,
                ),
                "gpd": distill_student(anchors, replace(base, seed=seed), work / "g", device, teacher_data=data),
            }
            if ceiling is None:
                ceiling = distill_student(train, replace(base, seed=seed), args.work / f"ceiling_seed{seed}", device)
            models["ceiling"] = ceiling
            for name, model in models.items():
                measured = evaluate_pairs(model, test, device)
                for metric in scores:
                    scores[metric][name].setdefault(k, []).append(measured[metric])
            if args.grid_dir is not None:
                write_grid(args.grid_dir / f"k{k}_seed{seed}.png", models, test, device)
    report = {
        "teacher": args.teacher, "resolution": size, "train_pairs": len(train), "test_pairs": len(test),
        "steps": args.steps, "seeds": args.seeds, "protocol": "grey, photo frame; SSIM Gaussian σ 1.5; FSIM piq",
        "grey_photo_floor": floor,
        "results": {metric: {name: {str(k): summary(v) for k, v in per_k.items()} for name, per_k in per.items()}
                    for metric, per in scores.items()},
        "seconds": time.perf_counter() - started, "threads": torch.get_num_threads(),
    }  # fmt: skip
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)


def summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "runs": len(values)}


def evaluate_pairs_floor(test: AlignedPairs) -> dict[str, float]:
    from gpdface.train.evaluate import grey_fsim, grey_ssim

    pairs = list(zip(test.sources, test.targets, strict=True))
    return {
        "ssim": statistics.fmean(grey_ssim(s, t) for s, t in pairs),
        "fsim": statistics.fmean(grey_fsim(s, t) for s, t in pairs),
    }


def write_grid(path: Path, models: dict, test: AlignedPairs, device, count: int = 6) -> None:
    picks = subset(test, np.linspace(0, len(test) - 1, count).round().astype(int))
    rows = [list(picks.sources), list(picks.targets)]
    rows += [stylize_in_frame(models[name], picks, device) for name in SETTINGS]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=96)


if __name__ == "__main__":
    main()
