"""``gpdface finetune`` and ``gpdface pretrain-teacher``: flags over a ``FinetuneRecipe`` → the training package."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..errors import UsageError
from ..recipe import FinetuneRecipe, parse_loss_items
from .base import app, err, guarded, out

_R = FinetuneRecipe()  # the defaults the flags show (and leave alone when not given)


@app.command()
def finetune(
    name: Annotated[
        str | None, typer.Option(help="Name of the new style (default: the exemplar folder's name).")
    ] = None,
    shots: Annotated[Path | None, typer.Option(help="Folder with 1–10 stylized exemplar images.")] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option("--pairs", help="Folder with source/ and target/ files of the same names (repeatable)."),
    ] = None,
    recipe: Annotated[
        Path | None,
        typer.Option(help="A recipe (JSON), or a style's style.json to make it again; the flags below override it."),
    ] = None,
    teacher: Annotated[
        str | None,
        typer.Option(
            help=f"Teacher GAN: a manifest name, a pretrained teacher, a checkpoint path, or none "
            f"(default {_R.teacher})."
        ),
    ] = None,
    steps: Annotated[int | None, typer.Option(help=f"Distillation steps (default {_R.steps}).")] = None,
    adapt_steps: Annotated[
        int | None, typer.Option(help=f"Teacher adaptation steps (default {_R.adapt_steps}).")
    ] = None,
    projection_steps: Annotated[
        int | None, typer.Option(help=f"Projection steps per exemplar batch (default {_R.projection_steps}).")
    ] = None,
    photos: Annotated[
        Path | None,
        typer.Option(
            help="With a teacher: a folder of real face photos (any; a few hundred or more) the student "
            "learns from, aligned once and cached (default: the pinned face bank lfw-2000, 1,744 aligned LFW "
            "faces, research use)."
        ),
    ] = None,
    photos_limit: Annotated[
        int | None, typer.Option(help=f"Use at most this many of the --photos (default {_R.photos_limit}).")
    ] = None,
    encoder_steps: Annotated[
        int | None,
        typer.Option(help=f"Steps of the encoder into the teacher's latents (default {_R.encoder_steps})."),
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help=f"Anchor pairs per step (default {_R.batch_size}).")] = None,
    lr: Annotated[float | None, typer.Option(help=f"Adam learning rate of the student (default {_R.lr:g}).")] = None,
    loss: Annotated[
        list[str] | None,
        typer.Option(
            "--loss",
            help="NAME=WEIGHT: set a loss term's weight, 0 switches it off (repeatable); terms: lowpass_l1, ssim, "
            "adversarial, feature_matching, teacher (default 10 with --shots, 1 with --pairs), relative; and on the "
            "face bank's whole photos, landmarks and structure (keep the person; default 0).",
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: Annotated[int | None, typer.Option(help=f"Random seed (default {_R.seed}).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run of the same name.")] = False,
    restart: Annotated[bool, typer.Option(help="Discard an earlier run of the same name.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Style folder to write (default: the user styles folder).")
    ] = None,
    aligned: Annotated[bool, typer.Option(help="The images are aligned face crops: skip detection.")] = False,
    landmarks: Annotated[
        Path | None,
        typer.Option(
            help="JSON or CSV with five points per --shots image the detector cannot find (eyes, nose tip, mouth "
            "corners; image's left first), keyed by file name."
        ),
    ] = None,
    evaluate: Annotated[
        list[Path] | None, typer.Option("--eval", help="Pairs folders to report SSIM on at the end (repeatable).")
    ] = None,
    identity: Annotated[
        bool, typer.Option(help="Also report identity rank-1 on the --eval sets (needs the dev extra: dlib).")
    ] = False,
    description: Annotated[str, typer.Option(help="One line describing the style.")] = "",
    license_: Annotated[str, typer.Option("--license", help="Terms of the weights and of their training data.")] = "",
    default_output: Annotated[
        str | None,
        typer.Option(help=f"paste or crop: what translate writes by default (default {_R.default_output})."),
    ] = None,
    background: Annotated[
        str | None,
        typer.Option(
            help="How translate renders the photo around the faces: auto (student: the whole photo drawn by the "
            "style), keep, grey, pencil (its tone fitted to the exemplars), student or paper (a white page: only "
            f"the drawn heads) (default {_R.background})."
        ),
    ] = None,
    tone: Annotated[
        str | None,
        typer.Option(
            help="follow: a darker face is drawn darker (pencil, paint, flat colour; the face bank's teacher "
            "targets carry each photo's tone and features); ignore: skin is drawn paper-white on everyone "
            f"(ink, line art) (default {_R.tone})."
        ),
    ] = None,
    augment: Annotated[
        str | None,
        typer.Option(
            help="The exemplars' random geometry and colour: standard (roll ±5°) or wide (roll ±20°, scale ±15 %, "
            f"more colour) (default {_R.augment})."
        ),
    ] = None,
    init: Annotated[
        str | None,
        typer.Option(help="Start the student from this style's weights (a name or folder) instead of from scratch."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing style folder.")] = False,
    push_to_hub: Annotated[
        str | None, typer.Option(help="Upload the style to this Hub repository and print its manifest entry.")
    ] = None,
) -> None:
    """Make a new style from 1–10 exemplars (--shots) or exemplar pairs (--pairs) by GAN prior distillation.

    Time on 2 CPU cores at the defaults (--shots, 300 steps): about 9 min, a first run on a --photos folder
    included (it aligns the face bank and trains the teacher's encoder once, about 3 min; both are cached);
    about 1 min per further 50 steps. On one GPU (an H200): about 1 min, first run included. Interrupted
    runs continue with --resume.
    """

    def body() -> None:
        from ..style import read_style_info
        from ..train.finetune import FinetuneRequest, run_finetune

        base = FinetuneRecipe.load(recipe) if recipe is not None else FinetuneRecipe()
        chosen = base.override(
            teacher=teacher, steps=steps, adapt_steps=adapt_steps, projection_steps=projection_steps,
            photos_limit=photos_limit, encoder_steps=encoder_steps, batch_size=batch_size, lr=lr, seed=seed,
            tone=tone, background=background, default_output=default_output, augment=augment, init=init,
            loss=parse_loss_items(loss) if loss else None,
        )  # fmt: skip
        request = FinetuneRequest(
            name=name,
            shots_dir=shots,
            pair_dirs=tuple(pairs or ()),
            photos_dir=photos,
            recipe=chosen,
            device=device,
            resume=resume,
            restart=restart,
            out=out_dir,
            aligned=aligned,
            landmarks_file=landmarks,
            eval_dirs=tuple(evaluate or ()),
            identity=identity,
            description=description,
            license=license_,
            overwrite=overwrite,
            command=shlex.join(["gpdface", *sys.argv[1:]]),
        )
        style_dir = run_finetune(request, console=err)
        made = read_style_info(style_dir).name
        out.print(f"style {made!r} written to {style_dir}; use it with: gpdface translate PHOTO --style {made}")
        if push_to_hub:
            from ..train.student.export import manifest_entry
            from ..train.student.export import push_to_hub as push

            revision = push(style_dir, push_to_hub)
            entry = manifest_entry(style_dir, read_style_info(style_dir), push_to_hub, revision)
            err.print(f'pushed to {push_to_hub} at {revision}; add this to weights_manifest.json under "styles":')
            print(json.dumps(entry, indent=2))

    guarded(body)


@app.command("pretrain-teacher")
def pretrain_teacher(
    faces_dir: Annotated[Path, typer.Argument(help="Folder of real face photos (searched recursively).")],
    name: Annotated[str, typer.Option(help="Name of the teacher, for finetune --teacher NAME.")],
    resolution: Annotated[int, typer.Option(help="64 or 128.")] = 64,
    width: Annotated[int, typer.Option(help="Generator width (channels of its last layer).")] = 48,
    kimg: Annotated[float, typer.Option(help="Thousands of real images shown in all: the length of training.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 64,
    lr: Annotated[float, typer.Option(help="Adam learning rate of both networks.")] = 2e-4,
    holdout: Annotated[int, typer.Option(help="Photos (whole identities) kept out for the checks.")] = 500,
    min_score: Annotated[float, typer.Option(help="Detection score a face needs to count.")] = 0.9,
    aligned: Annotated[
        bool, typer.Option(help="The photos are already aligned to the FFHQ frame at --resolution: no detection.")
    ] = False,
    augment: Annotated[bool, typer.Option(help="DiffAugment before the discriminator.")] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    grow_from: Annotated[
        str, typer.Option(help="A DCGAN teacher one octave smaller to grow from (e.g. lfw64 for --resolution 128).")
    ] = "",
    frozen_kimg: Annotated[
        float, typer.Option(help="With --grow-from: kimg during which only the new top layer learns.")
    ] = 0.0,
    start_enlarged: Annotated[
        bool, typer.Option(help="With --grow-from: new top layers start by drawing its faces enlarged.")
    ] = False,
    resize_top: Annotated[
        bool, typer.Option(help="Keep the RGB layer a nearest ×2 resize then 3×3 convolution (no two-pixel grid).")
    ] = False,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda: where the GAN trains.")] = "auto",
    work: Annotated[
        Path | None, typer.Option(help="Run folder: aligned cache and checkpoints (resumed when present).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Teacher folder to write.")] = None,
    license_: Annotated[str, typer.Option("--license", help="Terms of the training photos.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing teacher folder.")] = False,
) -> None:
    """Pretrain a teacher GAN on a folder of real face photos (aligned, cached and resumable)."""

    def body() -> None:
        from ..train.teachers.pretrain import PretrainConfig
        from ..train.teachers.pretrain_run import PretrainRequest, run_pretrain
        from ..translator import pick_device

        if resolution not in (64, 128):
            raise UsageError(f"--resolution must be 64 or 128, not {resolution}")
        if not grow_from and (frozen_kimg or start_enlarged):
            raise UsageError("--frozen-kimg and --start-enlarged apply to a grown teacher: add --grow-from TEACHER")
        config = PretrainConfig(
            resolution=resolution, width=width, kimg=kimg, batch_size=batch_size, lr=lr, augment=augment, seed=seed,
            grow_from=grow_from, frozen_kimg=frozen_kimg, start_enlarged=start_enlarged, resize_top=resize_top,
        )  # fmt: skip
        request = PretrainRequest(
            faces_dir=faces_dir, name=name, config=config, holdout=holdout, min_score=min_score, work=work,
            out=out_dir, license=license_, overwrite=overwrite, command=shlex.join(["gpdface", *sys.argv[1:]]),
            aligned=aligned,
            device=str(pick_device(device)),  # resolved here: the run records where it trained
        )  # fmt: skip
        folder = run_pretrain(request, console=err)
        out.print(f"teacher {name!r} written to {folder}; use it with: gpdface finetune --teacher {name} …")

    guarded(body)
