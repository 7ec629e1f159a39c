"""Few-shot photo→sketch quality on CUFS at the style's resolution (256 px), with the ablation, in one run.

    python benchmarks/quality.py \
        --train ../shared/assets/cufs/cuhk/train --train ../shared/assets/cufs/ar/train \
        --train ../shared/assets/cufs/xm2vts/train \
        --test ../shared/assets/cufs/ar/test --test ../shared/assets/cufs/xm2vts/test \
        --photos ../shared/assets/faces/lfw-deepfunneled --out quality.json

For each K (--shots) and seed, K training pairs are drawn (seeded) and students are trained at 256 px in
the FFHQ frame, every one with the same objective (``gpdface.train.student.objective``, unconditional patch
discriminator) and step count:
1. ``anchors_only``  — the K pairs alone;
2. ``plain_distill`` — plus the face bank's teacher targets with c ≡ 1 and no relative term;
3. ``gpd``           — two-scale GPD, every term;
4. ``ceiling``       — all training pairs, no teacher (once per seed).
At the K given to --ablation-shots (default 5), GPD is also trained with one part left out, on the same
teacher data: ``gpd_no_teacher`` (teacher term off), ``gpd_no_disc`` (no patch discriminator: neither its
adversarial nor its feature-matching term), ``gpd_no_confidence`` (c ≡ 1), ``gpd_no_photo_fakes`` (the
patch discriminator sees the anchors' drawings only, not the face bank's).
Seeds given to --target-only-seeds train only the target comparison (``anchors_only`` against ``gpd``): the
way to size a run for 2 cores, with every setting on one seed and the comparison on three. --only trains
just the settings named (e.g. ``--only anchors_only gpd ceiling`` for a longer-step check of the headroom).

The teacher data come from ``gpdface.train.gpd.stages.gpd_teacher_data`` — the function ``gpdface finetune``
runs — with the K pairs as ``--pairs`` anchors (their photos projected into the teacher) and the face bank
given by --photos; one encoder serves every K and seed (it depends on the teacher alone).

Scores on the test pairs (the development splits) with the field's protocol — the drawing pasted back into
the photo's 200×250 frame, the grey photo outside the crop, both grey; SSIM (Gaussian σ 1.5, population
covariance) and FSIM (piq) — and identity rank-1 (sketch → photo, dlib's descriptor; dev extra), each next
to the grey-photo floor (for identity: the artists' own sketches). And on --unseen-faces photos from the
--photos folder of people outside the face bank (in-the-wild faces no student was trained on), the skin
tone (``tone_across_faces``): ``tone_slope``, how the drawings' skin tone follows the photos', and
``tone_darkest``, the drawn skin of the tenth with the darkest photos (0–255); the "floor" there is the
photos' own (slope 1). Mean ± std over seeds, and each
seed's score (``by_seed``: runs on other seeds can be pooled). The JSON is
rewritten after every K and seed (``"complete": false`` until the end); --grid-dir saves picture grids;
``python benchmarks/quality_table.py FILE…`` prints the tables (several files: runs on other seeds, pooled).
--device cuda trains and scores on a GPU; one process per seed side by side uses it better (small students).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from emit import emit
from quality_table import summarise

from gpdface.face.align import template_for
from gpdface.face.detect import RetinaFaceDetector
from gpdface.recipe import TONES, FinetuneRecipe, parse_loss_items
from gpdface.train.data.faceset import align_collection, align_unseen_people
from gpdface.train.data.pairs import AlignedPairs, align_pairs, find_pairs
from gpdface.train.evaluation.identity import optional_identity_scorer
from gpdface.train.evaluation.scores import mean_grey_scores, stylize_in_frame, tone_across_faces, tone_spread
from gpdface.train.finetune import device_description, distill_config, gpd_settings
from gpdface.train.gpd.frames import FrameMap
from gpdface.train.gpd.stages import GPDSettings, gpd_teacher_data
from gpdface.train.student.distill import distill_student
from gpdface.train.teachers import load_teacher
from gpdface.train.visual import save_grid
from gpdface.translator import pick_device

SETTINGS = ("anchors_only", "plain_distill", "gpd", "ceiling")
ABLATIONS = ("gpd_no_teacher", "gpd_no_disc", "gpd_no_confidence", "gpd_no_photo_fakes")
METRICS = ("ssim", "fsim", "rank1")
TONE_METRICS = ("tone_slope", "tone_darkest")  # on photos of people outside the face bank (--unseen-faces)
SIZE = 256


def subset(pairs: AlignedPairs, indices) -> AlignedPairs:
    pick = [int(i) for i in indices]
    return AlignedPairs(
        [pairs.names[i] for i in pick], [pairs.sources[i] for i in pick], [pairs.targets[i] for i in pick],
        [pairs.matrices[i] for i in pick], pairs.crop_size,
    )  # fmt: skip


def main() -> None:
    args = parse_args()
    started = time.perf_counter()
    bench = Bench(args)
    report = {
        "train_dirs": [str(d) for d in args.train], "test_dirs": [str(d) for d in args.test],
        "photos": str(args.photos), "teacher": args.teacher, "resolution": SIZE, "shots": args.shots,
        "seeds": args.seeds, "steps": args.steps, "adapt_steps": args.adapt_steps,
        "projection_steps": args.projection_steps, "encoder_steps": args.encoder_steps,
        "photos_limit": args.photos_limit, "ablation_shots": args.ablation_shots,
        "tone_transfer": bench.settings.tone_transfer, "recipe": args.recipe.to_dict(),
        "transfer_blur": args.transfer_blur,
        "target_only_seeds": args.target_only_seeds, "only": args.only, "loss": args.loss,
        "protocol": "grey, photo frame (grey photo outside the crop); SSIM Gaussian σ 1.5; FSIM piq; "
        "rank-1 sketch → photo, dlib ResNet descriptor",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "device": device_description(bench.device),
    }  # fmt: skip
    # Seeds outermost: a run cut short still holds every K for the seeds it finished.
    for seed in args.seeds:
        if seed not in args.target_only_seeds and bench.wanted("ceiling"):
            bench.train_ceiling(seed)
        for k in args.shots:
            bench.run(k, seed)
            report |= bench.report() | {"complete": False, "seconds": time.perf_counter() - started}
            if args.out:
                args.out.write_text(json.dumps(report, indent=2) + "\n")
    report |= bench.report() | {"complete": True, "seconds": time.perf_counter() - started}
    emit(report, args.out)


def parse_args() -> argparse.Namespace:
    recipe = FinetuneRecipe()  # every training default is finetune's; a flag changes it for the whole run
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, action="append", required=True)
    parser.add_argument("--test", type=Path, action="append", required=True)
    parser.add_argument("--photos", type=Path, required=True, help="the face bank: a folder of real face photos")
    parser.add_argument("--photos-limit", type=int, default=recipe.photos_limit)
    parser.add_argument(
        "--unseen-faces", type=int, default=300,
        help="also draw this many --photos of people outside the face bank and score the skin tone (0: skip)",
    )  # fmt: skip
    parser.add_argument("--shots", type=int, nargs="+", default=[1, 5, 10])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--teacher", default=recipe.teacher)
    parser.add_argument("--steps", type=int, default=recipe.steps, help="distillation steps per student")
    parser.add_argument("--adapt-steps", type=int, default=recipe.adapt_steps)
    parser.add_argument("--tone", choices=TONES, default=recipe.tone, help="as finetune --tone")
    parser.add_argument(
        "--tone-transfer", type=float, default=None,
        help="override the share of what G_s(w) missed of each photo that goes into its teacher target "
        "(GPDSettings.tone_transfer; default: what --tone gives finetune)",
    )  # fmt: skip
    parser.add_argument(
        "--transfer-blur", type=float, default=GPDSettings.transfer_blur,
        help="σ of the blur on what G_s(w) missed, a share of the teacher's resolution (GPDSettings.transfer_blur)",
    )  # fmt: skip
    parser.add_argument("--projection-steps", type=int, default=recipe.projection_steps)
    parser.add_argument("--encoder-steps", type=int, default=recipe.encoder_steps)
    parser.add_argument(
        "--ablation-shots", type=int, nargs="*", default=[5], help="K at which each GPD part is left out in turn"
    )
    parser.add_argument(
        "--target-only-seeds", type=int, nargs="*", default=[],
        help="seeds that train only anchors_only and gpd (the target comparison), to size a run",
    )  # fmt: skip
    parser.add_argument(
        "--only", nargs="*", default=[], choices=SETTINGS + ABLATIONS, help="train only these settings (default: all)"
    )
    parser.add_argument(
        "--loss", action="append", default=[], metavar="NAME=WEIGHT",
        help="a loss term's weight for every setting, as finetune --loss (repeatable)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="tiny step counts, one K and seed: a smoke test")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto: where students train and draw")
    parser.add_argument("--work", type=Path, default=Path("runs/quality"))
    parser.add_argument("--grid-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON, rewritten after every K and seed")
    args = parser.parse_args()
    args.loss = parse_loss_items(args.loss)
    if args.quick:
        args.shots, args.seeds = args.shots[:1], args.seeds[:1]
        args.steps, args.adapt_steps, args.projection_steps, args.encoder_steps = 3, 2, 3, 4
        args.photos_limit = min(args.photos_limit, 60)
    args.recipe = recipe.override(
        teacher=args.teacher, steps=args.steps, adapt_steps=args.adapt_steps, projection_steps=args.projection_steps,
        encoder_steps=args.encoder_steps, photos_limit=args.photos_limit, tone=args.tone, loss=args.loss,
    )  # fmt: skip
    return args


class Bench:
    """The data, the teacher and every score of the run."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args, self.device = args, pick_device(args.device)
        detector = RetinaFaceDetector(device=self.device)
        template = template_for(SIZE)
        self.teacher = load_teacher(args.teacher, self.device)
        self.frame = FrameMap.between(template, SIZE, self.teacher.template, self.teacher.resolution)
        self.train = align_pairs([p for d in args.train for p in find_pairs(d)], detector, SIZE, template)
        self.test = align_pairs([p for d in args.test for p in find_pairs(d)], detector, SIZE, template)
        faces = align_collection(args.photos, args.work / "facebank", detector, SIZE, template, limit=args.photos_limit)
        self.photos = faces.images
        self.unseen = None
        if args.unseen_faces:
            unseen = align_unseen_people(args.photos, args.photos_limit, args.unseen_faces, detector, SIZE, template)
            self.unseen = unseen.images
        self.identity, _ = optional_identity_scorer()
        self.gallery = self.identity.descriptors(self.test) if self.identity else None
        self.floor = mean_grey_scores(self.test.sources, self.test.targets, self.device)
        if self.identity is not None:
            self.floor["rank1"] = self.identity.rank1(self.test, self.test.targets, self.gallery).rank1  # artists'
        if self.unseen is not None:  # the photos' own tones: what a drawing that kept every tone would score
            photo_tone = tone_spread(list(self.unseen), list(self.unseen))
            self.floor |= {"tone_slope": photo_tone.slope, "tone_darkest": photo_tone.darkest[0]}
        # finetune's own configuration for a style made from pairs with a teacher (unconditional discriminator),
        # every setting trained from it; only checkpoints and sample grids are left out
        self.base = replace(
            distill_config(args.recipe, with_teacher=True, shots=False), checkpoint_every=10**9, sample_every=10**9
        )
        self.settings = replace(gpd_settings(args.recipe), transfer_blur=args.transfer_blur)
        if args.tone_transfer is not None:
            self.settings = replace(self.settings, tone_transfer=args.tone_transfer)
        names = SETTINGS + (ABLATIONS if args.ablation_shots else ())
        # metric → setting → K → seed → score (per seed, so that later runs on other seeds can be pooled)
        metrics = METRICS + (TONE_METRICS if self.unseen is not None else ())
        self.scores: dict[str, dict[str, dict[int, dict[int, float]]]] = {m: {s: {} for s in names} for m in metrics}
        self.seconds = dict.fromkeys(("teacher_data", *names, "evaluation"), 0.0)
        self.ceiling = self.ceiling_scores = None

    def train_ceiling(self, seed: int) -> None:
        """The all-pairs student of this seed, trained and scored once for every K."""
        config = replace(self.base, seed=seed)
        folder = self.args.work / f"ceiling{seed}"
        self.ceiling = self._timed("ceiling", distill_student, self.train, config, folder, self.device)
        self.ceiling_scores = self._timed("evaluation", self.score, self.ceiling)

    def run(self, k: int, seed: int) -> None:
        chosen = np.random.default_rng(seed).choice(len(self.train), size=k, replace=False)
        anchors = subset(self.train, chosen)
        run, base = self.args.work / f"k{k}_seed{seed}", replace(self.base, seed=seed)
        settings = replace(self.settings, adapt=replace(self.settings.adapt, seed=seed))
        anchors, data = self._timed(
            "teacher_data", gpd_teacher_data, self.teacher, anchors, False, self.photos, self.frame, settings, run,
            encoder_dir=self.args.work / "encoder",
        )  # fmt: skip
        train = lambda name, config, teacher_data=None: self._timed(  # noqa: E731
            name, distill_student, anchors, config, run / name, self.device, teacher_data=teacher_data
        )
        plans = {"anchors_only": (base, None), "gpd": (base, data)}
        if seed not in self.args.target_only_seeds:
            plans["plain_distill"] = (base.with_weights({"relative": 0.0}), data.uniform())
            if k in self.args.ablation_shots:
                plans |= {
                    "gpd_no_teacher": (base.with_weights({"teacher": 0.0}), data),
                    "gpd_no_disc": (base.with_weights({"adversarial": 0.0, "feature_matching": 0.0}), data),
                    "gpd_no_confidence": (base, data.uniform()),
                    "gpd_no_photo_fakes": (replace(base, photo_fakes=False), data),
                }
        models = {name: train(name, *plan) for name, plan in plans.items() if self.wanted(name)}
        with_ceiling = seed not in self.args.target_only_seeds and self.wanted("ceiling")
        self._record(k, seed, models, with_ceiling=with_ceiling)

    def wanted(self, setting: str) -> bool:
        return not self.args.only or setting in self.args.only

    def _record(self, k: int, seed: int, models: dict, with_ceiling: bool) -> None:
        measured = {name: self._timed("evaluation", self.score, model) for name, model in models.items()}
        if with_ceiling:
            measured["ceiling"] = self.ceiling_scores
            models = {**models, "ceiling": self.ceiling}
        for setting, values in measured.items():
            for metric, value in values.items():
                self.scores[metric][setting].setdefault(k, {})[seed] = value
        if self.args.grid_dir is not None:
            write_grid(self.args.grid_dir / f"k{k}_seed{seed}.png", models, self.test, self.device)

    def score(self, model) -> dict[str, float]:
        drawn = stylize_in_frame(model, self.test, self.device)
        scores = mean_grey_scores(drawn, self.test.targets, self.device)
        if self.identity is not None:
            scores["rank1"] = self.identity.rank1(self.test, drawn, self.gallery).rank1
        if self.unseen is not None:
            tone = tone_across_faces(model, self.unseen, self.device)
            scores |= {"tone_slope": tone.slope, "tone_darkest": tone.darkest[1]}
        return scores

    def report(self) -> dict:
        return {
            "train_pairs": len(self.train), "test_pairs": len(self.test), "face_bank": len(self.photos),
            "floor": self.floor,
            "terms": self.base.term_weights(),  # what every setting starts from (ablations then switch terms off)
            "results": {metric: {setting: {str(k): summarise(v) for k, v in per_k.items()}
                                 for setting, per_k in by_setting.items() if per_k}
                        for metric, by_setting in self.scores.items()},
            "seconds_by_setting": dict(self.seconds),
        }  # fmt: skip

    def _timed(self, key: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[key] += time.perf_counter() - start
        return result


def write_grid(path: Path, models: dict, test: AlignedPairs, device: torch.device, count: int = 6) -> None:
    """Rows: test photo, artist's sketch, then one row per model in the order given (the photo's frame)."""
    picks = subset(test, np.linspace(0, len(test) - 1, count).round().astype(int))
    rows = [list(picks.sources), list(picks.targets)]
    rows += [stylize_in_frame(model, picks, device) for model in models.values()]
    path.parent.mkdir(parents=True, exist_ok=True)
    save_grid(path, rows, tile=128)


if __name__ == "__main__":
    main()
