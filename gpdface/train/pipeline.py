"""``gpdface finetune``: every stage from exemplar files to an exported style, with one progress display.

Stages: read and align the pairs → train the student → evaluate → export. The run folder
(``$GPDFACE_HOME/runs/<name>``) keeps checkpoints and sample grids; ``--resume`` continues it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..errors import InputError, UsageError
from ..face.align import template_for
from ..hub import gpdface_home
from ..imageio import atomic_write
from ..nets.student import StudentConfig
from ..style import StyleInfo, user_styles_dir
from ..translator import pick_device
from .data import AlignedPairs, align_pairs, find_pairs
from .distill import DistillConfig, train_on_pairs
from .evaluate import evaluate_pairs
from .export import export_style

MAX_SHOTS_NOTE = "GPD is built for 1–10 exemplars; more pairs simply train a supervised student"


@dataclass
class FinetuneRequest:
    """What the user asked ``gpdface finetune`` for."""

    pair_dirs: list[Path]
    name: str
    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-3
    device: str = "auto"
    seed: int = 0
    resume: bool = False
    restart: bool = False
    out: Path | None = None
    aligned: bool = False
    eval_dirs: list[Path] = field(default_factory=list)
    description: str = ""
    license: str = ""
    default_output: str = "paste"
    overwrite: bool = False
    command: str = ""
    crop_size: int = 256


def run_finetune(request: FinetuneRequest, console: Console | None = None) -> Path:
    """Run every stage and return the exported style folder.

    Raises:
        InputError: bad folders or images (named).
        UsageError: an earlier run or style of the same name exists and neither resume nor overwrite was asked.
        NoFaceError: an exemplar without a face (named).
    """
    console = console or Console(stderr=True)
    _validate(request)
    run_dir = gpdface_home() / "runs" / request.name
    style_dir = request.out or user_styles_dir() / request.name
    _check_run_dir(run_dir, request)
    if style_dir.exists() and not request.overwrite and not request.resume:
        raise UsageError(f"{style_dir} exists; pass --overwrite to replace it or choose another --name")
    device = pick_device(request.device)
    template = template_for(request.crop_size)
    detector = None if request.aligned else _detector(device)

    console.print(f"[bold]1/4 align[/] {', '.join(map(str, request.pair_dirs))}")
    pairs = _load(request.pair_dirs, detector, request.crop_size, template)
    console.print(f"    {len(pairs)} pair(s) aligned to the FFHQ template at {request.crop_size} px")

    config = DistillConfig(
        steps=request.steps,
        batch_size=request.batch_size,
        lr=request.lr,
        seed=request.seed,
        student=StudentConfig(resolution=request.crop_size),
    )
    (run_dir / "request.json").parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"config": config.to_dict(), "pairs": pairs.names}, indent=2)
    atomic_write(run_dir / "request.json", lambda f: f.write(text.encode()))
    console.print(f"[bold]2/4 train[/] the student ({request.steps} steps, run folder {run_dir})")
    columns = (
        TextColumn("    {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("steps", total=request.steps, loss=float("nan"))
        model = train_on_pairs(
            pairs,
            config,
            run_dir,
            device,
            resume=request.resume,
            on_step=lambda step, loss: progress.update(task, completed=step, loss=loss),
        )

    console.print("[bold]3/4 evaluate[/]")
    metrics = {"train": evaluate_pairs(model, pairs, device)}
    for folder in request.eval_dirs:
        metrics[str(folder)] = evaluate_pairs(model, _load([folder], detector, request.crop_size, template), device)
    for key, value in metrics.items():
        console.print(
            f"    {key}: SSIM {value['ssim']:.4f} (grey photo {value['ssim_photo']:.4f}, {value['pairs']} pairs)"
        )

    console.print(f"[bold]4/4 export[/] {style_dir}")
    info = StyleInfo(
        name=request.name,
        description=request.description or f"trained by gpdface finetune on {len(pairs)} pair(s)",
        crop_size=request.crop_size,
        template=tuple(tuple(float(v) for v in p) for p in template),
        default_output=request.default_output,
        license=request.license,
        provenance={
            "method": "student trained on exemplar pairs (anchor term: L1 + MS-SSIM), no teacher",
            "data": [str(p) for p in request.pair_dirs],
            "pairs": len(pairs),
            "steps": request.steps,
            "seed": request.seed,
            "config": config.to_dict(),
            "command": request.command,
            "metrics": metrics,
        },
    )
    return export_style(style_dir, model, info)


def _validate(request: FinetuneRequest) -> None:
    if not request.pair_dirs:
        raise InputError("give at least one --pairs folder")
    if request.steps < 1 or request.batch_size < 1:
        raise InputError("--steps and --batch-size must be at least 1")
    if request.default_output not in ("paste", "crop"):
        raise InputError("--default-output must be paste or crop")
    if not request.name or "/" in request.name or request.name.startswith("."):
        raise InputError(f"--name {request.name!r} must be a plain name (letters, digits, - and _)")


def _check_run_dir(run_dir: Path, request: FinetuneRequest) -> None:
    if request.restart and run_dir.exists():
        shutil.rmtree(run_dir)
    elif (run_dir / "student.ckpt").exists() and not request.resume:
        raise UsageError(
            f"an earlier run of {request.name!r} is in {run_dir}; pass --resume to continue it or --restart"
        )


def _detector(device):
    from ..face.detect import RetinaFaceDetector

    return RetinaFaceDetector(device=device)


def _load(folders: list[Path], detector, crop_size: int, template) -> AlignedPairs:
    files = [pair for folder in folders for pair in find_pairs(folder)]
    return align_pairs(files, detector, crop_size, template)
