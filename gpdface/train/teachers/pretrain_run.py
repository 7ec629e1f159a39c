"""``gpdface pretrain-teacher``: a face collection in, a teacher folder that ``--teacher NAME`` finds out.

Stages: align the photos (cached, resumable) → hold out whole identities for the checks → train the GAN
(checkpointed, resumable) → export ``config.json`` + ``generator.safetensors`` (fp16) + ``README.md``
into ``$GPDFACE_HOME/teachers/<name>``.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from rich.console import Console
from safetensors.torch import save

from ...errors import UsageError
from ...face.align import template_for
from ...face.detect import RetinaFaceDetector
from ...hub import gpdface_home
from ...imageio import atomic_write
from ...manifest import load_manifest
from ..data.faceset import align_collection, identity_holdout, list_photos, load_aligned
from ..progress import job_progress
from .dcgan import DCGANTeacher
from .pretrain import PretrainConfig, pretrain_gan
from .registry import load_teacher


@dataclass
class PretrainRequest:
    """What the user asked ``gpdface pretrain-teacher`` for."""

    faces_dir: Path
    name: str
    config: PretrainConfig
    holdout: int = 500
    min_score: float = 0.9
    work: Path | None = None
    out: Path | None = None
    license: str = ""
    overwrite: bool = False
    command: str = ""
    device: str = "cpu"
    aligned: bool = False  # the photos are aligned crops at the configured resolution: no detection


def user_teachers_dir() -> Path:
    return gpdface_home() / "teachers"


def run_pretrain(request: PretrainRequest, console: Console | None = None) -> Path:
    """Run every stage; return the exported teacher folder."""
    console = console or Console(stderr=True, soft_wrap=True)
    config = request.config
    if request.name in load_manifest().teachers:
        raise UsageError(f"{request.name!r} is a registry teacher; choose another --name")
    out = request.out or user_teachers_dir() / request.name
    if out.exists() and not request.overwrite:
        raise UsageError(f"{out} exists; pass --overwrite to replace it")
    work = request.work or gpdface_home() / "runs" / f"teacher-{request.name}"
    list_photos(request.faces_dir)  # a wrong folder is reported before the detector is loaded
    template = template_for(config.resolution)

    what = "read aligned faces" if request.aligned else f"align → {config.resolution} px FFHQ frame (cache: {work})"
    console.print(f"[bold]1/3 align[/] {request.faces_dir}: {what}")
    with job_progress(console) as progress:
        task = progress.add_task("photos", total=None, info="")
        on_photo = lambda done, total: progress.update(task, completed=done, total=total)  # noqa: E731
        if request.aligned:
            faces = load_aligned(request.faces_dir, config.resolution, on_photo=on_photo)
            skipped_list = work / "skipped.tsv"
            work.mkdir(parents=True, exist_ok=True)
            listing = "".join(f"{n}\t{r}\n" for n, r in faces.skipped).encode()
            atomic_write(skipped_list, lambda f: f.write(listing))
        else:
            cache = work / f"aligned_{config.resolution}"
            skipped_list = cache / "skipped.tsv"
            faces = align_collection(
                request.faces_dir, cache, RetinaFaceDetector(), config.resolution, template, request.min_score,
                on_photo=on_photo,
            )  # fmt: skip
    if len(faces) < 2 * request.holdout:
        raise UsageError(f"only {len(faces)} usable faces; pretraining needs thousands (--holdout {request.holdout})")
    held = identity_holdout(faces.names, request.holdout)
    split = {"train": [n for n, h in zip(faces.names, held, strict=True) if not h], "holdout": faces.subset(held).names}
    atomic_write(work / "split.json", lambda f: f.write(json.dumps(split, indent=1).encode()))
    console.print(
        f"    {len(faces)} faces ({len(faces.skipped)} photos skipped, listed in {skipped_list}); "
        f"{int(held.sum())} held out, {len(split['train'])} for training"
    )

    grow_from = smaller_generator(config) if config.grow_from else None
    start = ", starting from its faces enlarged" if config.start_enlarged else ""
    grown = f", grown from {config.grow_from} (its layers fixed for {config.frozen_kimg} kimg{start})"
    grown = grown if grow_from else ""
    length = f"{config.kimg} kimg ({config.steps} steps) on {request.device}"
    top = ", RGB layer kept a resize-convolution" if config.resize_top else ""
    console.print(f"[bold]2/3 train[/] DCGAN width {config.width}, {length}{grown}{top}")
    with job_progress(console) as progress:
        task = progress.add_task("steps", total=config.steps, info="")

        def on_step(step: int, losses: dict[str, float]) -> None:
            info = f"D {losses['d']:.3f} G {losses['g']:.3f}" if losses else "resumed"
            progress.update(task, completed=step, info=info)

        state = pretrain_gan(
            faces.images[~held], config, work / "gan", on_step=on_step, grow_from=grow_from, device=request.device
        )

    console.print(f"[bold]3/3 export[/] {out}")
    export_teacher(out, state, request, train_faces=len(split["train"]), skipped=len(faces.skipped))
    return out


def smaller_generator(config: PretrainConfig) -> dict[str, torch.Tensor]:
    """The generator state (``main.*``, float32) of ``config.grow_from``: a DCGAN teacher one octave smaller."""
    teacher = load_teacher(config.grow_from)
    if not isinstance(teacher, DCGANTeacher):
        raise UsageError(
            f"--grow-from {config.grow_from}: only a DCGAN teacher can be grown, not {type(teacher).__name__}"
        )
    if teacher.resolution * 2 != config.resolution:
        raise UsageError(
            f"--grow-from {config.grow_from} draws {teacher.resolution} px; growing adds one octave, "
            f"so --resolution must be {teacher.resolution * 2}"
        )
    return {f"main.{k}": v.float() for k, v in teacher.main.state_dict().items()}


def export_teacher(out: Path, state: dict[str, torch.Tensor], request: PretrainRequest, **counts: int) -> Path:
    """Write the teacher folder the ``dcgan`` teacher type loads: generator (fp16), config, card."""
    config = request.config
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    tensors = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    (staging / "generator.safetensors").write_bytes(save(tensors))
    info = {
        "type": "dcgan",
        "name": request.name,
        "resolution": config.resolution,
        "template": template_for(config.resolution).round(4).tolist(),
        "data": {
            "folder": str(request.faces_dir),
            "aligned": request.aligned,
            **counts,
            "holdout_photos": request.holdout,
        },
        "license": request.license,
        "recipe": config.to_dict(),
        "command": request.command,
    }
    (staging / "config.json").write_text(json.dumps(info, indent=2) + "\n")
    (staging / "README.md").write_text(teacher_card(info, sum(v.numel() for v in state.values())))
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)  # the folder appears complete or not at all
    return out


def teacher_card(info: dict, parameters: int) -> str:
    recipe = info["recipe"]
    return "\n".join([
        f"# gpdface teacher `{info['name']}`",
        "",
        f"A {info['resolution']} px DCGAN face generator pretrained with `gpdface pretrain-teacher`, for few-shot",
        "adaptation and paired rendering in `gpdface finetune --teacher`. Faces are in the FFHQ 5-point frame.",
        "",
        "| | |",
        "| --- | --- |",
        f"| training data | {info['data']['folder']} ({info['data'].get('train_faces', '?')} aligned faces) |",
        f"| licence | {info['license'] or 'not stated: the training photos decide how it may be used'} |",
        f"| generator parameters | {parameters:,} (fp16) |",
        f"| recipe | width {recipe['width']}, batch {recipe['batch_size']}, {recipe['kimg']} kimg, lr {recipe['lr']}, "
        f"EMA half-life {recipe['ema_kimg']} kimg, DiffAugment {recipe['augment']}, seed {recipe['seed']} |",
        *(
            [f"| grown from | `{recipe['grow_from']}` (its layers fixed for the first {recipe['frozen_kimg']} kimg) |"]
            if recipe.get("grow_from")
            else []
        ),
        f"| command | `{info['command']}` |",
        "",
    ])  # fmt: skip
