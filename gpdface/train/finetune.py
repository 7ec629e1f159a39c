"""``gpdface finetune``: every stage from exemplar files to an exported style, with one progress display.

With a teacher (``--teacher``, the default ``lfw64``), two-scale GPD:
    align → photos (the face bank) → project (anchors) → adapt G_t → encode the photos → distill → evaluate
    → export.
Without one (``--teacher none``): align → train the student on the pairs → evaluate → export.

The student always works at the style's resolution (256 px, FFHQ frame) whatever the teacher's is.
Everything lives in the run folder ``$GPDFACE_HOME/runs/<name>``; each stage leaves a result there
(anchors, adapted generator, encoder, student checkpoint), so ``--resume`` skips finished stages and
continues the interrupted one from its last checkpoint. The aligned face bank is cached apart, in
``$GPDFACE_HOME/facebanks/``, and shared by every run that uses the same photos.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console

from ..background import Background
from ..errors import ChecksumError, InputError, UsageError, WeightsError
from ..face.align import template_for
from ..hub import gpdface_home, sha256_of
from ..imageio import atomic_write
from ..names import check_name, name_from_folder
from ..nets.student import StudentConfig
from ..recipe import AUTO_BACKGROUND, FinetuneRecipe
from ..style import StyleInfo, load_style, shipped_style_names, user_styles_dir
from ..tone_layer import LayeredStudent
from ..translator import pick_device
from .data.facebank import DEFAULT_FACEBANK, load_facebank
from .data.faceset import align_collection, list_photos
from .data.landmarks import landmarks_for, read_landmarks
from .data.pairs import AUGMENTATIONS, AlignedPairs, align_images, align_pairs, find_pairs, find_shots
from .evaluation.identity import IdentityScorer
from .evaluation.scores import evaluate_pairs
from .gpd.encoder import EncoderConfig
from .gpd.frames import FrameMap
from .gpd.stages import GPDSettings, gpd_teacher_data, shared_encoder_dir
from .gpd.targets import TRANSFER_BLUR
from .progress import job_progress, loss_info
from .student.background_fit import fit_pencil
from .student.distill import DistillConfig, distill_student, training_seconds
from .student.export import export_style, is_grey, make_output_grey
from .student.objective import ObjectiveConfig
from .visual import save_grid

MIN_PHOTOS = 50  # fewer photos than this cannot stand for the faces users will give
# How the drawing's tone relates to the photo's: "follow" (a darker face is drawn darker: pencil, painted and
# flat-colour styles) or "ignore" (ink and line art, whose skin is paper-white on everyone). "ignore" trains on
# the face-bank photos through random tone curves γ ∈ [0.45, 2.2] with their targets unchanged.
TONE_SPREAD = {"follow": 0.0, "ignore": 0.8}
# With "follow" the face bank's teacher targets also carry what the source generator's reconstruction missed
# of each photo, its tone and features (gpd.GPDSettings.tone_transfer, transfer_blur): without it the 64 px
# prior gives every face the same light, blurred target and GPD drew dark skin lighter than the exemplar pairs
# alone (docs/few-shot.md). "ignore" leaves the targets as the teacher drew them.
TONE_TRANSFER = {"follow": 1.0, "ignore": 0.0}

# The teacher term's weight with --shots. The anchors' sources are then projections G_s(w) — blurred 64 px
# faces, not photos — so the face bank's photos and their teacher targets are the only real photos the
# student is trained on; at the weight of 1 that --pairs uses, the anchors' L1 term outweighed them about
# six to one and the student drew real photos as embossed grey texture. Weights 5, 10 and 20 all scored
# higher than 1 on the five-sketch example; 10 had the best FSIM and kept dark hair and eyes, which 20
# fades. With --pairs the anchors are real photos and 20 did not help (docs/making-a-style.md).
SHOTS_TEACHER_WEIGHT = 10.0


@dataclass(frozen=True)
class FinetuneRequest:
    """What the user asked ``gpdface finetune`` for: the exemplars, how to make the style (its recipe, where
    every training default lives), and where it goes."""

    name: str | None = None  # None: named after the exemplar folder (default_style_name)
    shots_dir: Path | None = None
    pair_dirs: tuple[Path, ...] = ()
    photos_dir: Path | None = None  # real face photos to learn from (with a teacher); the pinned bank when None
    recipe: FinetuneRecipe = field(default_factory=FinetuneRecipe)
    device: str = "auto"
    resume: bool = False
    restart: bool = False
    out: Path | None = None
    aligned: bool = False
    landmarks_file: Path | None = None  # five points per exemplar the detector cannot find
    eval_dirs: tuple[Path, ...] = ()
    identity: bool = False  # identity rank-1 on the eval sets (dev extra)
    description: str = ""
    license: str = ""
    overwrite: bool = False
    command: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pair_dirs", tuple(Path(p) for p in self.pair_dirs))
        object.__setattr__(self, "eval_dirs", tuple(Path(p) for p in self.eval_dirs))


def distill_config(recipe: FinetuneRecipe, with_teacher: bool, shots: bool) -> DistillConfig:
    """The student's training configuration: the recipe's settings, the defaults of its kind of run (with a
    teacher and ``shots``, the teacher term weighs ``SHOTS_TEACHER_WEIGHT``), then the recipe's loss weights."""
    teacher_weight = SHOTS_TEACHER_WEIGHT if with_teacher and shots else DistillConfig.teacher_weight
    return DistillConfig(
        steps=recipe.steps,
        batch_size=recipe.batch_size,
        lr=recipe.lr,
        seed=recipe.seed,
        # with a teacher the face bank's photos have no real drawing to stand beside
        objective=ObjectiveConfig(conditional=not with_teacher),
        teacher_weight=teacher_weight,
        photo_tone=TONE_SPREAD[recipe.tone],
        augment=AUGMENTATIONS[recipe.augment],
        student=StudentConfig(resolution=recipe.crop_size),
    ).with_weights(recipe.loss_weights)


def gpd_settings(recipe: FinetuneRecipe) -> GPDSettings:
    """The teacher stages' settings (projection, adaptation, encoder, targets) of ``recipe``."""
    return GPDSettings(
        projection_steps=recipe.projection_steps,
        adapt=replace(GPDSettings().adapt, steps=recipe.adapt_steps, seed=recipe.seed),
        encoder=replace(EncoderConfig(), steps=recipe.encoder_steps, seed=recipe.seed),
        tone_transfer=TONE_TRANSFER[recipe.tone],
        transfer_blur=TRANSFER_BLUR,
    )


def run_finetune(request: FinetuneRequest, console: Console | None = None) -> Path:
    """Run every stage and return the exported style folder.

    Raises:
        InputError: bad folders or images (named), or a shot count outside 1–10.
        UsageError: an earlier run or style of the same name exists and neither resume nor overwrite was asked.
        NoFaceError: an exemplar without a face (named).
        OfflineError: the teacher's weights cannot be had (the message says how to get them).
    """
    console = console or Console(stderr=True, soft_wrap=True)
    if request.name is None:
        request = replace(request, name=default_style_name(request))
        console.print(f"the style is named {request.name!r} after its exemplar folder (--name NAME to choose another)")
    _validate(request)
    run_dir = gpdface_home() / "runs" / request.name
    style_dir = request.out or user_styles_dir() / request.name
    if style_dir.exists() and not request.overwrite and not request.resume:
        raise UsageError(
            f"a style named {request.name!r} exists in {style_dir}; choose another name with --name NAME, "
            "or pass --overwrite to replace it"
        )
    _check_run_dir(run_dir, request)
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _run_stages(request, console, run_dir, style_dir)
    except BaseException:
        if not any(run_dir.iterdir()):  # a run that failed before writing anything leaves no folder behind
            run_dir.rmdir()
        raise


def _run_stages(request: FinetuneRequest, console: Console, run_dir: Path, style_dir: Path) -> Path:
    device = pick_device(request.device)
    identity = IdentityScorer() if request.identity else None  # fails now, not after training, without dlib
    torch.manual_seed(request.recipe.seed)
    teacher = None
    if request.recipe.teacher != "none":
        from .teachers import load_teacher

        teacher = load_teacher(request.recipe.teacher, device)
    size, template = request.recipe.crop_size, template_for(request.recipe.crop_size)
    detector = None if request.aligned else _detector(device)
    stage = _StageCounter(console, 8 if teacher is not None else 5 if request.recipe.faithful else 4)

    stage("align", ", ".join(map(str, request.pair_dirs or [request.shots_dir])))
    pairs = _anchor_pairs(request, detector, size, template, run_dir)
    console.print(f"    {len(pairs)} exemplar(s) at {size} px")
    teacher_data = None
    photos = None
    if teacher is not None or request.recipe.faithful:
        photos = _face_bank(request, size, template, device, stage)
    if teacher is not None:
        pairs, teacher_data = _teacher_stages(request, teacher, pairs, size, template, run_dir, stage, photos.images)
    config = distill_config(request.recipe, with_teacher=teacher is not None, shots=request.shots_dir is not None)
    # a style trained further keeps its tone layer (its student is what changes)
    init = load_style(request.recipe.init) if request.recipe.init else None
    init_digest = sha256_of(init.path / "model.safetensors") if init is not None else None  # now: files may move
    tone_layer = init.info.tone_layer if init is not None else None
    _write_json(
        run_dir / "request.json", {"config": config.to_dict(), "pairs": pairs.names, "teacher": request.recipe.teacher}
    )
    stage("distill", f"the student, {request.recipe.steps} steps (run folder {run_dir})")
    with job_progress(console) as progress:
        task = progress.add_task("steps", total=request.recipe.steps, info="")
        model = distill_student(
            pairs,
            config,
            run_dir,
            device,
            resume=request.resume,
            teacher_data=teacher_data,
            faithful_photos=photos.images if photos is not None and request.recipe.faithful else None,
            init=init.model if init is not None else None,
            on_step=lambda step, values: progress.update(task, completed=step, info=loss_info(values)),
        )

    if is_grey(pairs.targets):
        model = make_output_grey(model)
        console.print("    the exemplars are grey: the student's three output channels made one")
    stage("evaluate", "")
    drawer = model if tone_layer is None else LayeredStudent(model, tone_layer).eval()  # what translate draws
    metrics = {"anchors": evaluate_pairs(drawer, pairs, device)}
    for folder in request.eval_dirs:
        eval_pairs = _load_pairs([folder], detector, size, template)
        metrics[str(folder)] = evaluate_pairs(drawer, eval_pairs, device, identity=identity)
    for key, value in metrics.items():
        console.print(
            f"    {key}: SSIM {value['ssim']:.4f} (grey photo {value['ssim_photo']:.4f})"
            + (f", FSIM {value['fsim']:.4f} (grey photo {value['fsim_photo']:.4f})" if "fsim" in value else "")
            + (f", rank-1 {value['rank1']:.3f} (artists {value['rank1_artist']:.3f})" if "rank1" in value else "")
            + f", {value['pairs']} pairs"
        )

    stage("export", str(style_dir))
    background, background_report = _fit_background(request.recipe.background, pairs, template)
    if background_report:
        _write_json(run_dir / "background.json", background_report)
        console.print(f"    pencil background fitted on {background_report['pairs']} pair(s)")
    settings = gpd_settings(request.recipe)
    info = StyleInfo(
        name=request.name,
        description=request.description or f"made by gpdface finetune from {len(pairs)} exemplar(s)",
        crop_size=size,
        template=tuple(tuple(float(v) for v in p) for p in template),
        default_output=request.recipe.default_output,
        background=background,
        tone_layer=tone_layer,
        license=_style_license(request.license, photos),
        provenance={
            "method": "GPD: anchor-based distillation from an adapted teacher"
            if teacher is not None
            else "student trained on exemplar pairs (conditional patch discriminator + low-passed L1), no teacher",
            "teacher": request.recipe.teacher,
            "data": [str(p) for p in request.pair_dirs] or [str(request.shots_dir)],
            **({"face_bank": photos.source} if photos is not None else {}),
            **({"init": {"style": init.name, "model_sha256": init_digest}} if init else {}),
            **({"tone_layer": f"kept from {init.name} (--init); metrics include it"} if tone_layer else {}),
            "shots": len(pairs),
            "steps": {
                "distill": request.recipe.steps,
                **(
                    {
                        "adapt": request.recipe.adapt_steps,
                        "projection": request.recipe.projection_steps,
                        "encoder": request.recipe.encoder_steps,
                        "photos": len(teacher_data),
                    }
                    if teacher
                    else {}
                ),
            },
            **({"tone_transfer": settings.tone_transfer, "transfer_blur": settings.transfer_blur} if teacher else {}),
            "seed": request.recipe.seed,
            "device": device_description(device),
            "distill_seconds": round(training_seconds(run_dir)),
            "terms": {k: v for k, v in config.term_weights(teacher is not None).items() if v > 0},
            "config": config.to_dict(),
            "command": request.command,
            "recipe": request.recipe.to_dict(),
            "metrics": metrics,
        },
    )
    return export_style(style_dir, model, info)


def _style_license(given: str, photos: _Photos | None) -> str:
    """The style's terms: what the user gave, and the terms of the real photos it learnt from.

    Terms that already speak of the face bank (as a re-export's ``--license`` copied from the old style
    does) are kept as given, so they do not name it twice.
    """
    if photos is None or "face bank" in given.lower():
        return given
    return "; ".join(part for part in (given, f"face bank: {photos.license}") if part)


class _StageCounter:
    """Numbers the stages and shows each one's progress (the ``Reporter`` of ``gpd.py``)."""

    def __init__(self, console: Console, total: int) -> None:
        self.console, self.total, self.index = console, total, 0

    def __call__(self, name: str, detail: str) -> None:
        self.stage(name, detail)

    def stage(self, name: str, detail: str) -> None:
        self.index += 1
        self.console.print(f"[bold]{self.index}/{self.total} {name}[/] {detail}")

    def note(self, text: str) -> None:
        self.console.print(f"    {text}")

    @contextmanager
    def steps(self, total: int) -> Iterator[Callable[[int, Any], None]]:
        with job_progress(self.console) as progress:
            task = progress.add_task("steps", total=total, info="")
            yield lambda step, info: progress.update(task, completed=step, info=loss_info(info))


def _anchor_pairs(request, detector, size: int, template, run_dir: Path) -> AlignedPairs:
    """The exemplars in the style's frame: pairs as given, or for --shots the exemplars alone (their sources
    are filled in by projection)."""
    if request.pair_dirs:
        pairs = _load_pairs(request.pair_dirs, detector, size, template)
        save_grid(run_dir / "align.png", [[pairs.crops(i)[k] for i in range(min(8, len(pairs)))] for k in (0, 1)])
        return pairs
    paths = find_shots(request.shots_dir)
    given = {}
    if request.landmarks_file is not None:
        given = landmarks_for(paths, read_landmarks(request.landmarks_file), request.landmarks_file)
    targets = align_images(paths, detector, size, template, given)
    save_grid(run_dir / "align.png", [list(targets)])
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    return AlignedPairs([p.stem for p in paths], list(targets), list(targets), [identity] * len(paths), size)


def _teacher_stages(request, teacher, pairs, size, template, run_dir: Path, stage, photos: np.ndarray) -> tuple:
    frame = FrameMap.between(template, size, teacher.template, teacher.resolution)
    settings = gpd_settings(request.recipe)
    encoder_dir = shared_encoder_dir(gpdface_home(), teacher, settings.encoder)  # trained once per teacher
    return gpd_teacher_data(
        teacher, pairs, bool(request.shots_dir), photos, frame, settings, run_dir, stage, encoder_dir=encoder_dir
    )


@dataclass(frozen=True)
class _Photos:
    """The real faces a style made with a teacher learns from, and what to say about them."""

    images: np.ndarray
    source: str  # for the provenance: the face bank's name, or the --photos folder
    license: str  # terms of the photos, carried on to the style's licence


def _face_bank(request, size: int, template, device, reporter) -> _Photos:
    """The pinned default face bank (already aligned), or the ``--photos`` folder aligned into a cache."""
    if request.photos_dir is None:
        reporter.stage("photos", f"the face bank {DEFAULT_FACEBANK} (aligned real faces; --photos DIR for your own)")
        try:
            bank = load_facebank(DEFAULT_FACEBANK, crop_size=size)
        except ChecksumError:
            raise
        except WeightsError as exc:
            raise type(exc)(
                f"{exc}; or build the bank with `python tools/make_facebank.py LFW_DIR -o DIR` (gpdface's repository) "
                "and list DIR in GPDFACE_WEIGHTS_PATH, or pass --photos DIR (any folder of a few hundred face photos)"
            ) from None
        reporter.note(f"{len(bank)} faces; licence: {bank.license}")
        return _Photos(bank.images, f"face bank {DEFAULT_FACEBANK}", bank.license)
    reporter.stage(
        "photos", f"{request.photos_dir}: aligned to the style's frame, cached (at most {request.recipe.photos_limit})"
    )
    return _Photos(
        _aligned_folder(request, size, template, device, reporter),
        str(request.photos_dir),
        f"the photos of {request.photos_dir} (their own terms)",
    )


def _aligned_folder(request, size: int, template, device, reporter) -> np.ndarray:
    """A folder's aligned photos, from the cache shared by every run on the same folder and settings."""
    folder = Path(request.photos_dir).resolve()
    key = hashlib.sha256(f"{folder}|{size}|{request.recipe.photos_limit}".encode()).hexdigest()[:16]
    cache = gpdface_home() / "facebanks" / f"{folder.name}-{key}"
    with reporter.steps(min(request.recipe.photos_limit, len(list_photos(folder)))) as update:
        faces = align_collection(
            folder, cache, _detector(device), size, template, limit=request.recipe.photos_limit,
            on_photo=lambda done, total: update(done, "photos"),
        )  # fmt: skip
    if len(faces) < MIN_PHOTOS:
        raise InputError(f"{folder}: only {len(faces)} photo(s) with one clear face; the face bank needs {MIN_PHOTOS}+")
    reporter.note(f"{len(faces)} faces ({len(faces.skipped)} photos skipped; cache {cache})")
    return faces.images


def _fit_background(mode: str, pairs: AlignedPairs, template: np.ndarray) -> tuple[Background, dict]:
    """The style's background (``auto``: ``AUTO_BACKGROUND``); a ``pencil`` one gets its tone fitted to the
    pairs (see background_fit)."""
    mode = AUTO_BACKGROUND if mode == "auto" else mode
    if mode != "pencil":
        return Background(mode), {}
    eye_distance = float(np.hypot(*(np.asarray(template[1]) - np.asarray(template[0]))))
    return fit_pencil(pairs, eye_distance)


def device_description(device: torch.device) -> str:
    """What trained the style (for its card) or ran a benchmark: the accelerator's name, or the CPU's threads."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    import platform

    return f"cpu ({platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__})"


def default_style_name(request: FinetuneRequest) -> str:
    """A style's name when none is given: its exemplar folder's (``./my_5_images`` → ``my_5_images``).

    Raises:
        UsageError: no exemplar folder was given, or nothing usable is left of its name.
    """
    folders = [request.shots_dir] if request.shots_dir is not None else request.pair_dirs
    if not folders:
        raise UsageError("give the exemplars: --shots DIR (1–10 stylized faces) or --pairs DIR (source/ + target/)")
    return name_from_folder(Path(folders[0]).resolve().name)


def _validate(request: FinetuneRequest) -> None:
    if not request.pair_dirs and request.shots_dir is None:
        raise UsageError("give the exemplars: --shots DIR (1–10 stylized faces) or --pairs DIR (source/ + target/)")
    if request.pair_dirs and request.shots_dir is not None:
        raise UsageError("give either --shots DIR or --pairs DIR, not both")
    if request.landmarks_file is not None and request.shots_dir is None:
        raise UsageError("--landmarks gives points for the --shots exemplars; pairs are aligned on their photos")
    if request.landmarks_file is not None and request.aligned:
        raise UsageError("give either --aligned (the exemplars are aligned crops) or --landmarks, not both")
    if request.resume and request.restart:
        raise UsageError("--resume continues the earlier run and --restart discards it: give one of them")
    if request.recipe.tone != "follow" and request.recipe.teacher == "none":
        raise UsageError("--tone applies to the face-bank photos, which only a style made with a teacher uses")
    check_name(request.name, "--name")
    if request.name in shipped_style_names() and request.out is None:
        raise UsageError(
            f"{request.name!r} is a style shipped with gpdface, which a user style of that name would hide; "
            "choose another name with --name NAME"
        )
    # Check the exemplars, then the face bank, before anything slow (or a teacher download) happens.
    if request.shots_dir is not None:
        shots = find_shots(request.shots_dir)
        if request.landmarks_file is not None:
            landmarks_for(shots, read_landmarks(request.landmarks_file), request.landmarks_file)
    for folder in [*request.pair_dirs, *request.eval_dirs]:
        find_pairs(folder)
    if request.photos_dir is not None:
        list_photos(request.photos_dir)


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
