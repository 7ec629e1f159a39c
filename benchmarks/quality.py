"""Few-shot photo→sketch quality on CUFS, with the ablation, in one run.

    python benchmarks/quality.py \
        --train ../shared/assets/cufs/cuhk/train --train ../shared/assets/cufs/ar/train \
        --train ../shared/assets/cufs/xm2vts/train \
        --test ../shared/assets/cufs/ar/test --test ../shared/assets/cufs/xm2vts/test --out quality.json

For each K (--shots) and seed, K training pairs are drawn (seeded) and four students are trained and
evaluated on the test pairs:
1. ``anchors_only``  — the K pairs alone (anchor term only);
2. ``plain_distill`` — plus the teacher's rendered pairs, anchor-based terms off (c(w) ≡ 1, no relative
   term);
3. ``gpd``           — full GPD (all terms);
4. ``ceiling``       — all training pairs, no teacher.
At the K given to --ablation-shots (default 5) full GPD is also trained with one term left out at a time,
on the same teacher data: ``gpd_no_relative``, ``gpd_no_adversarial`` (no patch discriminator: neither its
adversarial nor its feature-matching term), ``gpd_no_confidence`` (c(w) ≡ 1). Every student is trained with
the same objective (``gpdface.train.objective``).
The grey test photo itself is reported as the floor. Metrics with the field's protocol (result mapped
back to the photo frame, grey): SSIM (Gaussian window σ 1.5, population covariance) and FSIM (piq);
mean ± std over seeds. All students work in the teacher's frame (resolution and template), so all
settings are compared at the same size; with several --teacher, each teacher has its own settings in
the same run. Outside the crop the result keeps the grey photo, so no method is judged on smeared borders.
Prints one JSON document; --grid-dir saves picture grids.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from emit import emit

from gpdface.face.detect import RetinaFaceDetector
from gpdface.imageio import to_tensor
from gpdface.nets import StudentConfig
from gpdface.train.adapt import AdaptConfig, adapt
from gpdface.train.augment import read_shards, render_pairs
from gpdface.train.data import AlignedPairs, align_pairs, find_pairs
from gpdface.train.distill import DistillConfig, TeacherData, distill_student
from gpdface.train.evaluate import evaluate_pairs, mean_grey_scores, stylize_in_frame
from gpdface.train.invert import project
from gpdface.train.teachers import load_teacher
from gpdface.train.teachers.registry import DEFAULT_TEACHER
from gpdface.train.visual import save_grid

SETTINGS = ("anchors_only", "plain_distill", "gpd", "ceiling")
ABLATIONS = ("gpd_no_relative", "gpd_no_adversarial", "gpd_no_confidence")


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
    parser.add_argument("--teacher", action="append", default=None, help=f"repeatable; default: {DEFAULT_TEACHER}")
    parser.add_argument("--steps", type=int, default=150, help="distillation steps per student")
    parser.add_argument("--adapt-steps", type=int, default=100)
    parser.add_argument("--projection-steps", type=int, default=100)
    parser.add_argument("--rendered-pairs", type=int, default=512)
    parser.add_argument(
        "--ablation-shots", type=int, nargs="*", default=[5], help="K at which each GPD term is left out in turn"
    )
    parser.add_argument("--quick", action="store_true", help="tiny step counts, one K and seed: a smoke test")
    parser.add_argument("--work", type=Path, default=Path("runs/quality"))
    parser.add_argument("--grid-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON, rewritten after every K and seed")
    args = parser.parse_args()
    args.teacher = args.teacher or [DEFAULT_TEACHER]
    if args.quick:
        args.shots, args.seeds = args.shots[:1], args.seeds[:1]
        args.steps, args.adapt_steps, args.projection_steps, args.rendered_pairs = 3, 2, 3, 16
    started = time.perf_counter()
    detector = RetinaFaceDetector()
    frames = {name: TeacherFrame.build(name, args, detector) for name in args.teacher}
    report = {
        "train_dirs": [str(d) for d in args.train], "test_dirs": [str(d) for d in args.test],
        "shots": args.shots, "seeds": args.seeds, "steps": args.steps, "adapt_steps": args.adapt_steps,
        "projection_steps": args.projection_steps, "rendered_pairs": args.rendered_pairs,
        "ablation_shots": args.ablation_shots,
        "protocol": "grey, photo frame (grey photo outside the crop); SSIM Gaussian σ 1.5; FSIM piq",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
    }  # fmt: skip
    # Seeds outermost: a run cut short still holds every K and teacher for the seeds it finished.
    for seed in args.seeds:
        for frame in frames.values():
            frame.train_ceiling(seed)
        for k in args.shots:
            for frame in frames.values():
                frame.run(k, seed)
            report |= {"teachers": {n: f.report() for n, f in frames.items()}, "complete": False}
            report["seconds"] = time.perf_counter() - started
            if args.out:
                args.out.write_text(json.dumps(report, indent=2) + "\n")
    report["complete"] = True
    emit(report, args.out)


class TeacherFrame:
    """One teacher and everything measured in its frame (its resolution and template)."""

    def __init__(self, name: str, teacher, train: AlignedPairs, test: AlignedPairs, args) -> None:
        self.name, self.teacher, self.train, self.test, self.args = name, teacher, train, test, args
        self.device = torch.device("cpu")
        self.base = DistillConfig(
            steps=args.steps, student=StudentConfig(resolution=teacher.resolution), checkpoint_every=10**9,
            sample_every=10**9,
        )  # fmt: skip
        settings = SETTINGS + (ABLATIONS if args.ablation_shots else ())
        self.scores: dict[str, dict[str, dict[int, list[float]]]] = {
            m: {s: {} for s in settings} for m in ("ssim", "fsim")
        }
        self.seconds = dict.fromkeys(("teacher_data", *settings, "evaluation"), 0.0)
        self.work = args.work / name
        self.ceiling = self.ceiling_scores = None
        self.floor = mean_grey_scores(test.sources, test.targets)  # the grey test photos themselves

    @classmethod
    def build(cls, name: str, args, detector) -> TeacherFrame:
        teacher = load_teacher(name, torch.device("cpu"))
        size, template = teacher.resolution, teacher.template
        train = align_pairs([p for d in args.train for p in find_pairs(d)], detector, size, template)
        test = align_pairs([p for d in args.test for p in find_pairs(d)], detector, size, template)
        return cls(name, teacher, train, test, args)

    def train_ceiling(self, seed: int) -> None:
        """The all-pairs student of this seed, trained and evaluated once for every K."""
        config = replace(self.base, seed=seed)
        folder = self.work / f"ceiling{seed}"
        self.ceiling = self._timed("ceiling", distill_student, self.train, config, folder, self.device)
        self.ceiling_scores = self._timed("evaluation", evaluate_pairs, self.ceiling, self.test, self.device, False)

    def run(self, k: int, seed: int) -> None:
        chosen = np.random.default_rng(seed).choice(len(self.train), size=k, replace=False)
        anchors = subset(self.train, chosen)
        run, base = self.work / f"k{k}_seed{seed}", replace(self.base, seed=seed)
        data = self._timed("teacher_data", teacher_data, self.teacher, anchors, self.args, seed, run)
        uniform = replace(data, confidence=torch.ones_like(data.confidence))  # c(w) ≡ 1
        no_anchor_terms = base.with_weights({"relative": 0.0})  # every student shares the objective
        models = {
            "anchors_only": self._timed("anchors_only", distill_student, anchors, base, run / "a", self.device),
            "plain_distill": self._timed(
                "plain_distill", distill_student, anchors, no_anchor_terms, run / "p", self.device, teacher_data=uniform
            ),
            "gpd": self._timed("gpd", distill_student, anchors, base, run / "g", self.device, teacher_data=data),
        }
        if k in self.args.ablation_shots:
            models |= self._ablation(anchors, base, data, uniform, run)
        measured = {
            name: self._timed("evaluation", evaluate_pairs, model, self.test, self.device, False)
            for name, model in models.items()
        }
        measured["ceiling"] = self.ceiling_scores
        for setting, values in measured.items():
            for metric in self.scores:
                self.scores[metric][setting].setdefault(k, []).append(values[metric])
        if self.args.grid_dir is not None:
            write_grid(
                self.args.grid_dir / f"{self.name}_k{k}_seed{seed}.png", {**models, "ceiling": self.ceiling},
                self.test, self.device,
            )  # fmt: skip

    def _ablation(
        self, anchors: AlignedPairs, base: DistillConfig, data: TeacherData, uniform: TeacherData, run: Path
    ) -> dict:
        """Full GPD with one term left out at a time, on the same anchors and teacher data (``uniform``: the
        same data with c(w) ≡ 1)."""
        variants = {
            "gpd_no_relative": (base.with_weights({"relative": 0.0}), data),
            "gpd_no_adversarial": (base.with_weights({"adversarial": 0.0, "feature_matching": 0.0}), data),
            "gpd_no_confidence": (base, uniform),
        }
        return {
            name: self._timed(name, distill_student, anchors, config, run / name, self.device, teacher_data=terms)
            for name, (config, terms) in variants.items()
        }

    def report(self) -> dict:
        per = self.scores
        return {
            "resolution": self.teacher.resolution, "train_pairs": len(self.train), "test_pairs": len(self.test),
            "grey_photo_floor": self.floor,
            "results": {metric: {setting: {str(k): summary(v) for k, v in per_k.items()}
                                 for setting, per_k in by_setting.items() if per_k}
                        for metric, by_setting in per.items()},
            "seconds": dict(self.seconds),
        }  # fmt: skip

    def _timed(self, key: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[key] += time.perf_counter() - start
        return result


def summary(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values), "runs": len(values)}


def write_grid(path: Path, models: dict, test: AlignedPairs, device, count: int = 6) -> None:
    """Rows: test photo, artist's sketch, then one row per model in the order given."""
    picks = subset(test, np.linspace(0, len(test) - 1, count).round().astype(int))
    rows = [list(picks.sources), list(picks.targets)]
    rows += [stylize_in_frame(model, picks, device) for model in models.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=96)


if __name__ == "__main__":
    main()
