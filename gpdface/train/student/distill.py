"""Training the student: on exemplar pairs alone, or by two-scale GPD from a teacher.

Every step trains on the anchors (x_i, y_i) with the shared objective of ``objective.py`` — a multi-scale
patch discriminator for strokes, a low-passed L1 term for tone — on random windows of the aligned pairs.
With teacher targets for real photos (``PhotoTargets``: photo x at the style's resolution, G_t(E(x↓)) at
the teacher's, confidence c), GPD's terms join, on windows of the photos:
- teacher term: c · ‖pool(S(x)) − G_t(w)‖₁, the student's drawing pooled down to the teacher's resolution:
  the teacher says where tones and features go, not how strokes look;
- relative term: ‖low-pass(pool(S(x) − S(x_a))) − low-pass(G_t(w) − G_t(w_a))‖₁ with a the photo's nearest
  anchor: the student's change from the anchor follows the teacher's, so the teacher's own error
  G_t(w_a) − y_a is not distilled;
- the photos' drawings go to the discriminator as fakes too, judged against the exemplars' texture at full
  resolution (an unconditional discriminator: the photos have no real drawing to stand beside).
Every term has a weight and is off at 0; ``DistillConfig.with_weights`` sets them by name. Without teacher
data only the objective runs: the student trained on the pairs alone (with many pairs, a supervised style).

An exponential moving average of the student's weights is kept and is what this returns and what gets
exported: the adversarial game makes the raw weights wander from step to step. Long runs checkpoint
atomically every ``checkpoint_every`` steps and resume from the last checkpoint; a sample grid (source,
target, student) is written every ``sample_every`` steps and each term's value every ``LOG_EVERY`` steps
to ``losses.jsonl``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ...checkpoint import load_checkpoint
from ...errors import InputError
from ...imageio import atomic_write, to_tensor, to_uint8
from ...nets.student import StudentConfig, StudentNet
from ...recipe import FAITHFUL_TERMS, TEACHER_TERMS
from ..data.pairs import AlignedPairs, Augment, PairBatches
from ..gpd.targets import PhotoTargets
from ..loop import (
    Cadence,
    cosine_with_warmup,
    ema_update,
    load_training_state,
    module_part,
    numpy_rng_part,
    recalibrate_batchnorm,
    run_steps,
    save_training_state,
)
from ..visual import save_grid
from .faithful import FaithfulConfig, FaithfulTerms, frozen_batch_statistics
from .objective import TERMS, ObjectiveConfig, StudentObjective

CHECKPOINT = "student.ckpt"
LOSS_LOG = "losses.jsonl"
LOG_EVERY = 10
RECALIBRATION_BATCHES = 64  # batches the exported average's batch statistics are re-measured on


@dataclass(frozen=True)
class DistillConfig:
    """Hyper-parameters of student training.

    Attributes:
        steps: optimiser steps.
        batch_size: anchor pairs per step.
        lr: Adam learning rate of the student (warm-up, then cosine decay to 5 % of it).
        window: side of the random windows the student trains on (the whole crop when larger).
        objective: the shared objective's term weights and discriminator.
        teacher_weight: weight of the confidence-weighted teacher term.
        relative_weight: weight of the relative term.
        teacher_batch_size: face-bank photos per step.
        relative_lowpass: further box filter of the relative term, at the teacher's resolution.
        photo_tone: largest |log γ| of a tone curve x ↦ x^γ applied to the face-bank photos alone, their
            targets unchanged: 0 keeps the drawing's tone following the photo's (pencil, painted styles);
            ink and line-art styles, whose skin is paper-white on every person, set it so that darker skin
            (the face bank has little) is not drawn as a black blot.
        photo_fakes: the face bank's drawings are shown to the patch discriminator as fakes beside the
            anchors' (so the exemplars' texture is asked of them too); False leaves their drawing to the
            teacher and relative terms and to what the student learns from the anchors.
        ema_half_life: half-life, in steps, of the exported moving average of the weights.
        augment: random geometry and photometric jitter; None for none.
        faithful: the terms that keep the person on the face bank's whole photos (``faithful.py``); off at 0.
        faithful_fakes: with the faithful terms on, a window of each such drawing also goes to the patch
            discriminator as a fake (beside its photo when the discriminator is conditional), so the
            exemplars' texture is asked of every kind of face, not only of the anchors'.
        checkpoint_every: steps between checkpoints.
        sample_every: steps between sample grids.
        seed: seeds initialisation and batch sampling.
        student: the student's architecture.
    """

    steps: int = (
        300  # finetune's default: 1000 over-inked real photos, with --shots and --pairs (docs/making-a-style.md)
    )
    batch_size: int = 8
    lr: float = 1e-3
    window: int = 128
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    teacher_weight: float = 1.0
    relative_weight: float = 1.0
    teacher_batch_size: int = 8
    relative_lowpass: int = 4
    photo_tone: float = 0.0
    photo_fakes: bool = True
    ema_half_life: float = 200.0
    augment: Augment | None = field(default_factory=Augment)
    faithful: FaithfulConfig = field(default_factory=FaithfulConfig)
    faithful_fakes: bool = True
    checkpoint_every: int = 100
    sample_every: int = 200
    seed: int = 0
    student: StudentConfig = field(default_factory=StudentConfig)

    def term_weights(self, with_teacher: bool = True) -> dict[str, float]:
        """``{term: weight}`` of the objective's terms, and of GPD's when ``with_teacher``."""
        weights = self.objective.weights()
        if with_teacher:
            weights |= {"teacher": self.teacher_weight, "relative": self.relative_weight}
        return weights | {name: float(getattr(self.faithful, name)) for name in FAITHFUL_TERMS}

    def with_weights(self, weights: dict[str, float]) -> DistillConfig:
        """A copy with the named terms' weights replaced (0 switches a term off).

        Raises:
            InputError: an unknown term (the message lists the known ones) or a negative weight.
        """
        known = (*TERMS, *TEACHER_TERMS, *FAITHFUL_TERMS)
        unknown = sorted(set(weights) - set(known))
        if unknown:
            raise InputError(f"unknown loss term {', '.join(unknown)}; known: {', '.join(known)}")
        negative = sorted(name for name, value in weights.items() if value < 0)
        if negative:
            raise InputError(f"loss weights must be ≥ 0: {', '.join(negative)}")
        objective = replace(self.objective, **{k: float(v) for k, v in weights.items() if k in TERMS})
        teacher = {f"{k}_weight": float(v) for k, v in weights.items() if k in TEACHER_TERMS}
        faithful = replace(self.faithful, **{k: float(v) for k, v in weights.items() if k in FAITHFUL_TERMS})
        return replace(self, objective=objective, faithful=faithful, **teacher)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


class StudentEMA:
    """An exponential moving average of a student's weights (buffers copied), warmed up over the first steps
    so that short runs are not dominated by the initialisation."""

    def __init__(self, model: StudentNet, half_life: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0

    def update(self, model: StudentNet, step: int) -> None:
        ema_update(self.model, model, step, self.decay, buffers=True)


def distill_student(
    pairs: AlignedPairs,
    config: DistillConfig,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    teacher_data: PhotoTargets | None = None,
    faithful_photos: np.ndarray | None = None,
    init: StudentNet | None = None,
) -> StudentNet:
    """Train a student on the anchor ``pairs`` (and ``teacher_data`` when given); return its weight average.

    Args:
        pairs: aligned anchor pairs (x_i, y_i).
        config: hyper-parameters and term weights.
        run_dir: where checkpoints, sample grids and the loss log go.
        device: torch device.
        resume: continue from ``run_dir/student.ckpt`` when it exists.
        on_step: called after every step with (step, {term: value, …, "total": loss}).
        teacher_data: face-bank photos with teacher targets, for the teacher and relative terms.
        faithful_photos: ``N S S 3`` uint8 aligned real faces (the face bank) for ``config.faithful``'s terms.
        init: a student of the same architecture to start from (a shipped style, trained further).

    Returns:
        The moving average of the student's weights, in eval mode.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = StudentNet(config.student).to(device)
    if init is not None:
        if init.config != config.student:
            raise InputError(f"the student to start from is a {init.config}, not the {config.student} asked for")
        model.load_state_dict(init.state_dict())
    ema = StudentEMA(model, config.ema_half_life)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.99))
    warmup = min(50, max(1, config.steps // 20))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_with_warmup(s, config.steps, warmup))
    if teacher_data is not None and config.objective.conditional and config.objective.needs_discriminator:
        raise ValueError("two-scale GPD needs an unconditional discriminator (ObjectiveConfig(conditional=False))")
    terms = _PhotoTerms(teacher_data, pairs, config, device) if teacher_data is not None else None
    faithful = None
    if config.faithful.active:
        if faithful_photos is None:
            raise ValueError("the faithful terms need the face bank's photos (faithful_photos)")
        faithful = FaithfulTerms(faithful_photos, config.faithful, device, config.seed)
    window = terms.window if terms is not None else config.window  # equal sides: one forward pass for both
    batches = PairBatches(pairs, config.batch_size, config.augment, config.seed, window)
    objective = StudentObjective(config.objective, device, seed=config.seed + 2, image_channels=3)
    parts = {
        "model": module_part(model),
        "ema": module_part(ema.model),
        "optimizer": module_part(optimizer),
        "scheduler": module_part(scheduler),
        "objective": module_part(objective),
        "rng": numpy_rng_part(batches.rng),
    }
    if terms is not None:
        parts["terms"] = module_part(terms)
    if faithful is not None:
        parts["faithful"] = module_part(faithful)
    start, earlier_seconds = 0, 0.0
    if resume and (run_dir / CHECKPOINT).is_file():
        state = load_training_state(run_dir / CHECKPOINT, "student checkpoint", parts)
        start, earlier_seconds = int(state["step"]), float(state.get("seconds", 0.0))
    began = time.perf_counter()
    log = _LossLog(run_dir / LOSS_LOG, start)
    preview = _preview_crops(pairs)
    model.train()

    def step(index: int) -> dict[str, float]:
        x, y = (t.to(device) for t in batches.sample())
        loss, values, photo_drawings = torch.zeros((), device=device), {}, None
        if terms is None:
            output = model(x)
        else:
            photo_batch = terms.sample()
            output, *drawn = _draw_together(model, [x, *photo_batch.inputs()])
            loss, values = terms.loss(photo_batch, *drawn)
            photo_drawings = drawn[0]
        extra_fakes = photo_drawings if config.photo_fakes else None
        extra_sources = None
        if faithful is not None:
            photos = faithful.sample()
            with frozen_batch_statistics(model):
                drawn = model(photos)
            faithful_loss, faithful_values = faithful.loss(photos, drawn)
            loss, values = loss + faithful_loss, values | faithful_values
            if config.faithful_fakes and objective.disc is not None:
                extra_sources, drawn_window = _same_window(photos, drawn, x.shape[-1], faithful.rng)
                extra_fakes = drawn_window if extra_fakes is None else torch.cat([extra_fakes, drawn_window])
                if not config.objective.conditional:
                    extra_sources = None
        objective_loss, objective_values = objective(x, y, output, extra_fakes=extra_fakes, extra_sources=extra_sources)
        loss = loss + objective_loss
        values = objective_values | values
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        ema.update(model, index)
        values["total"] = float(loss.detach())
        log.add(index + 1, values, last=index + 1 == config.steps)
        return values

    def save(done: int, _stopped: bool) -> None:
        log.flush()
        seconds = earlier_seconds + time.perf_counter() - began
        save_training_state(run_dir / CHECKPOINT, done, parts, seconds=seconds)

    run_steps(
        start,
        Cadence(config.steps, config.sample_every, config.checkpoint_every),
        step,
        write_samples=lambda done: _write_samples(run_dir / f"samples_{done:06d}.png", ema.model, preview, device),
        save=save,
        on_step=on_step,
    )
    log.flush()
    # The statistics are measured on what each training step normalised together (see _draw_together).
    if terms is None:
        return recalibrate_batchnorm(ema.model, lambda: batches.sample()[0], RECALIBRATION_BATCHES)

    def mixture() -> torch.Tensor:  # the anchors and the face bank's windows, together as in each step
        return torch.cat([batches.sample()[0].to(device), *terms.sample().inputs()])

    return recalibrate_batchnorm(ema.model, mixture, RECALIBRATION_BATCHES)


def _same_window(
    photos: torch.Tensor, drawn: torch.Tensor, side: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random ``side``-px window of each photo and of its drawing (for the discriminator)."""
    size = photos.shape[-1]
    corners = rng.integers(0, size - side + 1, (len(photos), 2)) if size > side else np.zeros((len(photos), 2), int)

    def cut(images):
        return torch.stack(
            [image[:, y : y + side, x : x + side] for image, (y, x) in zip(images, corners, strict=True)]
        )

    return cut(photos), cut(drawn)


def _draw_together(model: StudentNet, batches: list[torch.Tensor]) -> list[torch.Tensor]:
    """The student's drawing of each batch, from one forward pass over all of them.

    Why one pass: the student's batch norm normalises by the statistics of what it is given at once. Drawn
    apart, the anchors (CUFS-like photos) were normalised by their own statistics and the face bank's photos
    (LFW) by theirs, while the exported student has a single set: measured on the face bank, it shifted every
    drawing of an anchor-like photo, which cost GPD 0.017 SSIM on CUFS against the same weights measured on
    the anchors (docs/few-shot.md). Drawn together, training and export share one mixture.
    """
    drawn = model(torch.cat(batches))
    return list(drawn.split([len(b) for b in batches]))


class _LossLog:
    """Each term's mean over ``LOG_EVERY`` steps, appended to a JSON-lines file when a checkpoint is written;
    on resume, lines past the checkpoint (written before an interruption) are dropped."""

    def __init__(self, path: Path, start: int) -> None:
        self.path, self.pending, self.sums, self.count = path, [], {}, 0
        if path.is_file():
            kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= start]
            text = "".join(line + "\n" for line in kept)
            atomic_write(path, lambda f: f.write(text.encode()))

    def add(self, step: int, values: dict[str, float], last: bool = False) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1
        if step % LOG_EVERY == 0 or last:
            self.pending.append({"step": step, **{k: round(v / self.count, 6) for k, v in self.sums.items()}})
            self.sums, self.count = {}, 0

    def flush(self) -> None:
        if self.pending:
            with self.path.open("a", encoding="utf-8") as f:
                f.writelines(json.dumps(entry) + "\n" for entry in self.pending)
            self.pending = []


@dataclass(frozen=True)
class _PhotoBatch:
    """One step's face-bank windows (in [-1, 1], on the device) with their teacher targets and confidences,
    and for the relative term the windows of each photo's nearest anchor at the same places (or None)."""

    photos: torch.Tensor
    targets: torch.Tensor
    confidence: torch.Tensor
    anchors: torch.Tensor | None
    anchor_targets: torch.Tensor | None

    def inputs(self) -> list[torch.Tensor]:
        """What the student draws for this batch: the photos, then the anchors' windows when there are any."""
        return [self.photos] if self.anchors is None else [self.photos, self.anchors]


class _PhotoTerms:
    """Two-scale GPD's terms on windows of face-bank photos (module docstring)."""

    def __init__(self, data: PhotoTargets, pairs: AlignedPairs, config: DistillConfig, device: torch.device) -> None:
        self.data, self.config, self.device = data, config, device
        self.generator = torch.Generator().manual_seed(config.seed + 1)
        self.anchor_sources = torch.stack([to_tensor(pairs.crops(i)[0]) for i in range(len(pairs))])  # K 3 S S
        size, self.factor = data.photos.shape[-1], data.factor
        # whole teacher pixels, and no larger than the anchors' crops (both are drawn in one batch)
        self.window = min(config.window, size, pairs.crop_size) // self.factor * self.factor

    def _windows(self, count: int) -> tuple[torch.Tensor, list[tuple[int, int, bool]]]:
        """Random photos, and for each a window corner (multiples of the factor) and a flip."""
        size, f, w = self.data.photos.shape[-1], self.factor, self.window
        index = torch.randint(0, len(self.data), (count,), generator=self.generator)
        corners = torch.randint(0, (size - w) // f + 1, (count, 2), generator=self.generator) * f
        flips = torch.rand(count, generator=self.generator) < 0.5
        return index, [(int(y), int(x), bool(flip)) for (y, x), flip in zip(corners, flips, strict=True)]

    def _cut(self, images: torch.Tensor, places, scale: int) -> torch.Tensor:
        """Each image's window (corner and side divided by ``scale``), mirrored where asked."""
        side = self.window // scale
        parts = []
        for image, (y, x, flip) in zip(images, places, strict=True):
            part = image[:, y // scale : y // scale + side, x // scale : x // scale + side]
            parts.append(part.flip(-1) if flip else part)
        return torch.stack(parts)

    def _retone(self, photos: torch.Tensor) -> torch.Tensor:
        """``photos`` in [0, 1] through a random tone curve each (``photo_tone``; none at 0)."""
        if self.config.photo_tone <= 0:
            return photos
        spread = self.config.photo_tone
        log_gamma = (torch.rand(len(photos), generator=self.generator) * 2 - 1) * spread
        return photos.clamp_min(1e-4).pow(log_gamma.exp().view(-1, 1, 1, 1))

    def sample(self) -> _PhotoBatch:
        """This step's photos (retoned as configured), their targets and, for the relative term, anchors."""
        data, f = self.data, self.factor
        index, places = self._windows(self.config.teacher_batch_size)
        photos = self._retone(self._cut(data.photos[index].float().div(255), places, 1)).mul(2).sub(1)
        targets = self._cut(data.targets[index].float().div(127.5).sub(1), places, f)
        anchors = anchor_targets = None
        if self.config.relative_weight > 0:
            nearest = data.nearest[index]
            anchors = self._cut(self.anchor_sources[nearest], places, 1).to(self.device)
            anchor_targets = self._cut(data.anchor_targets[nearest], places, f).to(self.device)
        on = self.device
        return _PhotoBatch(photos.to(on), targets.to(on), data.confidence[index].to(on), anchors, anchor_targets)

    def loss(
        self, batch: _PhotoBatch, drawn: torch.Tensor, anchors_drawn: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """(weighted loss, each term's value) for the student's drawings of ``batch.inputs()``."""
        c, f = self.config, self.factor
        pooled = F.avg_pool2d(drawn, f) if f > 1 else drawn
        total, values = torch.zeros((), device=self.device), {}
        if c.teacher_weight > 0:
            teacher = (batch.confidence * (pooled - batch.targets).abs().flatten(1).mean(1)).mean()
            total, values["teacher"] = total + c.teacher_weight * teacher, float(teacher.detach())
        if c.relative_weight > 0:
            assert anchors_drawn is not None and batch.anchor_targets is not None
            student_change = pooled - (F.avg_pool2d(anchors_drawn, f) if f > 1 else anchors_drawn)
            teacher_change = batch.targets - batch.anchor_targets
            low = c.relative_lowpass
            relative = (F.avg_pool2d(student_change, low) - F.avg_pool2d(teacher_change, low)).abs().mean()
            total, values["relative"] = total + c.relative_weight * relative, float(relative.detach())
        return total, values

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


def _preview_crops(pairs: AlignedPairs, count: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    indices = np.linspace(0, len(pairs) - 1, min(count, len(pairs))).round().astype(int)
    return [pairs.crops(int(i)) for i in indices]


@torch.no_grad()
def _write_samples(path: Path, model: StudentNet, preview, device: torch.device) -> None:
    x = torch.stack([to_tensor(source) for source, _ in preview]).to(device)
    outputs = to_uint8(model.eval()(x).float())
    save_grid(path, [[s for s, _ in preview], [t for _, t in preview], list(outputs)])


def training_seconds(run_dir: str | Path) -> float:
    """Seconds spent training up to the last checkpoint in ``run_dir``, summed over resumed runs."""
    path = Path(run_dir) / CHECKPOINT
    if not path.is_file():
        return 0.0
    return float(load_checkpoint(path, "student checkpoint").get("seconds", 0.0))
