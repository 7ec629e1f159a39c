"""``gpdface finetune``: every stage from exemplar files to an exported style, with one progress display.

With a teacher (``--teacher``, the default ``lfw64``):
    align → project (anchors) → adapt G_t → render paired data → distill the student → evaluate → export.
Without one (``--teacher none``): align → train the student on the pairs → evaluate → export.

Everything lives in the run folder ``$GPDFACE_HOME/runs/<name>``; each stage leaves a result there
(anchors, adapted generator checkpoint, shards, student checkpoint), so ``--resume`` skips finished
stages and continues the interrupted one from its last checkpoint.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from safetensors.torch import load_file, save

from ..background import BACKGROUND_MODES, Background
from ..errors import InputError, UsageError
from ..face.align import template_for
from ..hub import gpdface_home
from ..imageio import atomic_write, to_tensor, to_uint8
from ..nets.student import StudentConfig
from ..style import StyleInfo, user_styles_dir
from ..translator import pick_device
from .adapt import CHECKPOINT as ADAPT_CHECKPOINT
from .adapt import AdaptConfig, adapt
from .augment import read_shards, render_pairs
from .background_fit import fit_pencil
from .data import AlignedPairs, align_images, align_pairs, find_pairs, find_shots
from .distill import DistillConfig, TeacherData, distill_student, training_seconds
from .evaluate import evaluate_pairs
from .export import export_style
from .identity import IdentityScorer
from .invert import project
from .progress import job_progress, loss_info
from .teachers.registry import DEFAULT_TEACHER
from .visual import save_grid


@dataclass
class FinetuneRequest:
    """What the user asked ``gpdface finetune`` for."""

    name: str
    pair_dirs: list[Path] = field(default_factory=list)
    shots_dir: Path | None = None
    teacher: str = DEFAULT_TEACHER
    steps: int = 1000
    adapt_steps: int = 300
    projection_steps: int = 300
    rendered_pairs: int = 2048
    batch_size: int = 8
    lr: float = 1e-3
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    restart: bool = False
    out: Path | None = None
    aligned: bool = False
    eval_dirs: list[Path] = field(default_factory=list)
    identity: bool = False  # identity rank-1 on the eval sets (dev extra)
    description: str = ""
    license: str = ""
    default_output: str = "paste"
    background: str = "keep"
    overwrite: bool = False
    command: str = ""
    crop_size: int = 256  # without a teacher; with one, the teacher's resolution
    weights: dict[str, float] = field(default_factory=dict)  # loss-term weights to override, by term name


def run_finetune(request: FinetuneRequest, console: Console | None = None) -> Path:
    """Run every stage and return the exported style folder.

    Raises:
        InputError: bad folders or images (named), or a shot count outside 1–10.
        UsageError: an earlier run or style of the same name exists and neither resume nor overwrite was asked.
        NoFaceError: an exemplar without a face (named).
        OfflineError: the teacher's weights cannot be had (the message says how to get them).
    """
    console = console or Console(stderr=True, soft_wrap=True)
    _validate(request)
    run_dir = gpdface_home() / "runs" / request.name
    style_dir = request.out or user_styles_dir() / request.name
    _check_run_dir(run_dir, request)
    if style_dir.exists() and not request.overwrite and not request.resume:
        raise UsageError(f"{style_dir} exists; pass --overwrite to replace it or choose another --name")
    run_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(request.device)
    identity = IdentityScorer() if request.identity else None  # fails now, not after training, without dlib
    torch.manual_seed(request.seed)
    teacher = None
    if request.teacher != "none":
        from .teachers import load_teacher

        teacher = load_teacher(request.teacher, device)
    size = teacher.resolution if teacher is not None else request.crop_size
    template = teacher.template if teacher is not None else template_for(size)
    detector = None if request.aligned else _detector(device)
    stages = 7 if teacher is not None else 4
    stage = _StageCounter(console, stages)

    stage("align", ", ".join(map(str, request.pair_dirs or [request.shots_dir])))
    pairs = _anchor_pairs(request, detector, size, template, teacher, run_dir, stage, console)
    console.print(f"    {len(pairs)} anchor pair(s) at {size} px")
    teacher_data = None
    if teacher is not None:
        teacher_data = _teacher_stages(request, teacher, pairs, run_dir, stage, console)

    config = DistillConfig(
        steps=request.steps,
        batch_size=request.batch_size,
        lr=request.lr,
        seed=request.seed,
        student=StudentConfig(resolution=size),
    ).with_weights(request.weights)
    _write_json(
        run_dir / "request.json", {"config": config.to_dict(), "pairs": pairs.names, "teacher": request.teacher}
    )
    stage("distill", f"the student, {request.steps} steps (run folder {run_dir})")
    with job_progress(console) as progress:
        task = progress.add_task("steps", total=request.steps, info="")
        model = distill_student(
            pairs,
            config,
            run_dir,
            device,
            resume=request.resume,
            teacher_data=teacher_data,
            on_step=lambda step, values: progress.update(task, completed=step, info=loss_info(values)),
        )

    stage("evaluate", "")
    metrics = {"anchors": evaluate_pairs(model, pairs, device)}
    for folder in request.eval_dirs:
        eval_pairs = _load_pairs([folder], detector, size, template)
        metrics[str(folder)] = evaluate_pairs(model, eval_pairs, device, identity=identity)
    for key, value in metrics.items():
        console.print(
            f"    {key}: SSIM {value['ssim']:.4f} (grey photo {value['ssim_photo']:.4f})"
            + (f", FSIM {value['fsim']:.4f} (grey photo {value['fsim_photo']:.4f})" if "fsim" in value else "")
            + (f", rank-1 {value['rank1']:.3f} (artists {value['rank1_artist']:.3f})" if "rank1" in value else "")
            + f", {value['pairs']} pairs"
        )

    stage("export", str(style_dir))
    background, background_report = _fit_background(request.background, pairs, template)
    if background_report:
        _write_json(run_dir / "background.json", background_report)
        console.print(f"    pencil background fitted on {background_report['pairs']} pair(s)")
    info = StyleInfo(
        name=request.name,
        description=request.description or f"made by gpdface finetune from {len(pairs)} exemplar(s)",
        crop_size=size,
        template=tuple(tuple(float(v) for v in p) for p in template),
        default_output=request.default_output,
        background=background,
        license=request.license,
        provenance={
            "method": "GPD: anchor-based distillation from an adapted teacher"
            if teacher is not None
            else "student trained on exemplar pairs (conditional patch discriminator + low-passed L1), no teacher",
            "teacher": request.teacher,
            "data": [str(p) for p in request.pair_dirs] or [str(request.shots_dir)],
            "shots": len(pairs),
            "steps": {
                "distill": request.steps,
                **(
                    {
                        "adapt": request.adapt_steps,
                        "projection": request.projection_steps,
                        "rendered_pairs": request.rendered_pairs,
                    }
                    if teacher
                    else {}
                ),
            },
            "seed": request.seed,
            "device": _device_description(device),
            "distill_seconds": round(training_seconds(run_dir)),
            "terms": {k: v for k, v in config.term_weights(teacher is not None).items() if v > 0},
            "config": config.to_dict(),
            "command": request.command,
            "metrics": metrics,
        },
    )
    return export_style(style_dir, model, info)


class _StageCounter:
    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.index = console, total, 0

    def __call__(self, name: str, detail: str) -> None:
        self.index += 1
        self.console.print(f"[bold]{self.index}/{self.total} {name}[/] {detail}")


def _anchor_pairs(request, detector, size, template, teacher, run_dir: Path, stage, console) -> AlignedPairs:
    """Pairs as given, or for --shots: (G_s(w_i), y_i) with w_i the projection of exemplar y_i."""
    if request.pair_dirs:
        pairs = _load_pairs(request.pair_dirs, detector, size, template)
        save_grid(run_dir / "align.png", [[pairs.crops(i)[k] for i in range(min(8, len(pairs)))] for k in (0, 1)])
        return pairs
    paths = find_shots(request.shots_dir)
    targets = align_images(paths, detector, size, template)
    save_grid(run_dir / "align.png", [list(targets)])
    if teacher is None:
        raise InputError("--shots needs a teacher to render source images; pass --teacher dcgan64 (or another)")
    latents = _project(request, teacher, torch.stack([to_tensor(t) for t in targets]), run_dir, stage, console)
    with torch.no_grad():
        sources = to_uint8(teacher.synthesis(latents.to(teacher.device)).float())
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    return AlignedPairs([p.stem for p in paths], list(sources), list(targets), [identity] * len(paths), size)


def _project(request, teacher, targets: torch.Tensor, run_dir: Path, stage, console) -> torch.Tensor:
    """Anchor latents, projected once and kept in the run folder."""
    path = run_dir / "anchors.safetensors"
    stage("project", f"{targets.shape[0]} exemplar(s) into {teacher.name}, {request.projection_steps} steps")
    if path.is_file():
        console.print("    kept from the earlier run")
        return load_file(str(path))["latents"]
    with job_progress(console) as progress:
        task = progress.add_task("steps", total=request.projection_steps, info="")
        result = project(
            teacher,
            targets,
            steps=request.projection_steps,
            on_step=lambda s, loss: progress.update(task, completed=s, info=loss_info(loss)),
        )
    save_grid(run_dir / "project.png", [list(to_uint8(targets)), list(to_uint8(result.reconstructions.float()))])
    tensors = {"latents": result.latents.cpu().contiguous(), "errors": result.errors.cpu().contiguous()}
    atomic_write(path, lambda f: f.write(save(tensors)))
    console.print(f"    reconstruction error {float(result.errors.mean()):.3f}")
    return result.latents


def _teacher_stages(request, teacher, pairs: AlignedPairs, run_dir: Path, stage, console) -> TeacherData:
    targets = torch.stack([to_tensor(pairs.crops(i)[1]) for i in range(len(pairs))])
    if request.pair_dirs:  # x_i is the real photo; its projection gives w_i
        sources = torch.stack([to_tensor(pairs.crops(i)[0]) for i in range(len(pairs))])
        latents = _project(request, teacher, sources, run_dir, stage, console)
    else:
        latents = load_file(str(run_dir / "anchors.safetensors"))["latents"]
    stage("adapt", f"the teacher to the {len(pairs)} target(s), {request.adapt_steps} steps")
    config = AdaptConfig(steps=request.adapt_steps, seed=request.seed)
    resume_adapt = (run_dir / ADAPT_CHECKPOINT).is_file()  # a finished or interrupted adaptation is continued
    with job_progress(console) as progress:
        task = progress.add_task("steps", total=config.steps, info="")
        adapted = adapt(
            teacher,
            targets,
            latents,
            config,
            run_dir,
            resume=resume_adapt,
            on_step=lambda s, losses: progress.update(task, completed=s, info=loss_info(losses["anchor"])),
        )
    stage("augment", f"{request.rendered_pairs} pairs from shared latents")
    shards = render_pairs(teacher, adapted, run_dir / "pairs", request.rendered_pairs, seed=request.seed)
    loaded = list(read_shards(shards))
    first = loaded[0]
    save_grid(
        run_dir / "augment.png",
        [list(first.sources[:8].permute(0, 2, 3, 1).numpy()), list(first.targets[:8].permute(0, 2, 3, 1).numpy())],
        tile=96,
    )
    with torch.no_grad():
        anchor_teacher = adapted.synthesis(latents.to(teacher.device)).cpu()
    return TeacherData.build(
        torch.cat([s.sources for s in loaded]),
        torch.cat([s.targets for s in loaded]),
        torch.cat([s.latents for s in loaded]),
        latents.cpu(),
        anchor_teacher,
    )


def _fit_background(mode: str, pairs: AlignedPairs, template: np.ndarray) -> tuple[Background, dict]:
    """The style's background; a ``pencil`` one gets its tone fitted to the pairs (see background_fit)."""
    if mode != "pencil":
        return Background(mode), {}
    eye_distance = float(np.hypot(*(np.asarray(template[1]) - np.asarray(template[0]))))
    return fit_pencil(pairs, eye_distance)


def _device_description(device: torch.device) -> str:
    """What trained the style, for its card: the accelerator's name, or the CPU's threads."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    import platform

    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})"


def _validate(request: FinetuneRequest) -> None:
    if bool(request.pair_dirs) == (request.shots_dir is not None):
        raise InputError("give either --shots DIR (stylized exemplars) or --pairs DIR (source/ + target/), not both")
    if request.steps < 1 or request.batch_size < 1:
        raise InputError("--steps and --batch-size must be at least 1")
    if request.default_output not in ("paste", "crop"):
        raise InputError("--default-output must be paste or crop")
    DistillConfig().with_weights(request.weights)  # unknown terms and negative weights, named
    if request.background not in BACKGROUND_MODES:
        raise InputError(f"--background must be one of {', '.join(BACKGROUND_MODES)}, not {request.background!r}")
    if not request.name or "/" in request.name or request.name.startswith("."):
        raise InputError(f"--name {request.name!r} must be a plain name (letters, digits, - and _)")
    # Check the exemplars before anything slow (or a teacher download) happens.
    if request.shots_dir is not None:
        find_shots(request.shots_dir)
    for folder in [*request.pair_dirs, *request.eval_dirs]:
        find_pairs(folder)


def _check_run_dir(run_dir: Path, request: FinetuneRequest) -> None:
    if request.restart and run_dir.exists():
        shutil.rmtree(run_dir)
    elif run_dir.exists() and any(run_dir.iterdir()) and not request.resume:
        raise UsageError(
            f"an earlier run of {request.name!r} is in {run_dir}; pass --resume to continue it or --restart"
        )


def _detector(device):
    from ..face.detect import RetinaFaceDetector

    return RetinaFaceDetector(device=device)


def _load_pairs(folders: list[Path], detector, crop_size: int, template) -> AlignedPairs:
    files = [pair for folder in folders for pair in find_pairs(folder)]
    return align_pairs(files, detector, crop_size, template)


def _write_json(path: Path, data: dict) -> None:
    text = json.dumps(data, indent=2)
    atomic_write(path, lambda f: f.write(text.encode()))
