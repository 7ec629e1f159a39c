"""Training the student: on exemplar pairs alone, or by anchor-based distillation from a teacher (DESIGN §6.5).

Every step trains on the anchors (x_i, y_i) with the shared objective of ``objective.py`` — a conditional
multi-scale patch discriminator for strokes, a low-passed L1 term for tone — on random windows of the
aligned pairs. With rendered teacher pairs (x̃, ỹ, w̃), GPD's anchor-based terms join:
- teacher term: c(w̃) · L_pix(S(x̃), ỹ), with c(w) = exp(−d(w, nearest anchor)² / 2σ²) and σ the median
  distance between anchors: pairs far from the real data count less; L_pix = L1 + weighted 1 − MS-SSIM;
- relative term: ‖low-pass(S(x̃) − S(x_a)) − low-pass(ỹ − G_t(w_a))‖₁ with a the nearest anchor: the
  student's change from the anchor follows the teacher's change, so the teacher's own error
  G_t(w_a) − y_a is not distilled.
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
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from ..imageio import atomic_write, to_tensor, to_uint8
from ..nets.student import StudentConfig, StudentNet
from .data import AlignedPairs, Augment, PairBatches
from .losses import pixel_loss_per_sample
from .objective import TERMS, ObjectiveConfig, StudentObjective
from .visual import save_grid

CHECKPOINT = "student.ckpt"
LOSS_LOG = "losses.jsonl"
LOG_EVERY = 10
TEACHER_TERMS = ("teacher", "relative")


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
        teacher_ssim: weight of 1 − MS-SSIM next to L1 inside the teacher term.
        teacher_batch_size: rendered pairs per step.
        relative_lowpass: downscaling factor of the relative term's low-pass filter.
        ema_half_life: half-life, in steps, of the exported moving average of the weights.
        augment: random geometry and photometric jitter; None for none.
        checkpoint_every: steps between checkpoints.
        sample_every: steps between sample grids.
        seed: seeds initialisation and batch sampling.
        student: the student's architecture.
    """

    steps: int = 1000
    batch_size: int = 8
    lr: float = 1e-3
    window: int = 128
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    teacher_weight: float = 1.0
    relative_weight: float = 1.0
    teacher_ssim: float = 1.0
    teacher_batch_size: int = 8
    relative_lowpass: int = 4
    ema_half_life: float = 200.0
    augment: Augment | None = field(default_factory=Augment)
    checkpoint_every: int = 100
    sample_every: int = 200
    seed: int = 0
    student: StudentConfig = field(default_factory=StudentConfig)

    def term_weights(self, with_teacher: bool = True) -> dict[str, float]:
        """``{term: weight}`` of the objective's terms, and of GPD's when ``with_teacher``."""
        weights = self.objective.weights()
        if with_teacher:
            weights |= {"teacher": self.teacher_weight, "relative": self.relative_weight}
        return weights

    def with_weights(self, weights: dict[str, float]) -> DistillConfig:
        """A copy with the named terms' weights replaced (0 switches a term off).

        Raises:
            InputError: an unknown term (the message lists the known ones) or a negative weight.
        """
        unknown = sorted(set(weights) - set(TERMS) - set(TEACHER_TERMS))
        if unknown:
            raise InputError(f"unknown loss term {', '.join(unknown)}; known: {', '.join((*TERMS, *TEACHER_TERMS))}")
        negative = sorted(name for name, value in weights.items() if value < 0)
        if negative:
            raise InputError(f"loss weights must be ≥ 0: {', '.join(negative)}")
        objective = replace(self.objective, **{k: float(v) for k, v in weights.items() if k in TERMS})
        teacher = {f"{k}_weight": float(v) for k, v in weights.items() if k in TEACHER_TERMS}
        return replace(self, objective=objective, **teacher)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _lr_factor(step: int, total: int) -> float:
    warmup = min(50, max(1, total // 20))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


class StudentEMA:
    """An exponential moving average of a student's weights (buffers copied), warmed up over the first steps
    so that short runs are not dominated by the initialisation."""

    def __init__(self, model: StudentNet, half_life: float) -> None:
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.decay = 0.5 ** (1.0 / half_life) if half_life > 0 else 0.0

    @torch.no_grad()
    def update(self, model: StudentNet, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        for average, current in zip(self.model.parameters(), model.parameters(), strict=True):
            average.lerp_(current, 1 - decay)
        for average, current in zip(self.model.buffers(), model.buffers(), strict=True):
            average.copy_(current)


@dataclass
class TeacherData:
    """Pairs rendered from shared latents, with what the anchor-based terms need.

    Attributes:
        sources: ``N 3 R R`` uint8 G_s(w̃).
        targets: ``N 3 R R`` uint8 G_t(w̃).
        confidence: ``N`` c(w̃) in (0, 1].
        nearest: ``N`` index of each pair's nearest anchor.
        anchor_teacher: ``K 3 R R`` float G_t(w_a) of each anchor, in [-1, 1].
    """

    sources: torch.Tensor
    targets: torch.Tensor
    confidence: torch.Tensor
    nearest: torch.Tensor
    anchor_teacher: torch.Tensor

    @classmethod
    def build(cls, sources, targets, latents, anchor_latents, anchor_teacher) -> TeacherData:
        """Compute c(w̃) and the nearest anchor from latent distances (σ: median anchor distance)."""
        flat, anchors = latents.flatten(1).float(), anchor_latents.flatten(1).float().to(latents.device)
        distance = torch.cdist(flat, anchors)  # N K
        nearest_distance, nearest = distance.min(dim=1)
        if anchors.shape[0] > 1:
            between = torch.cdist(anchors, anchors)
            sigma = between[~torch.eye(anchors.shape[0], dtype=torch.bool)].median()
        else:
            sigma = nearest_distance.median()
        confidence = torch.exp(-(nearest_distance**2) / (2 * sigma.clamp_min(1e-8) ** 2))
        return cls(sources, targets, confidence, nearest, anchor_teacher.float())


def distill_student(
    pairs: AlignedPairs,
    config: DistillConfig,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    teacher_data: TeacherData | None = None,
) -> StudentNet:
    """Train a student on the anchor ``pairs`` (and ``teacher_data`` when given); return its weight average.

    Args:
        pairs: aligned anchor pairs (x_i, y_i).
        config: hyper-parameters and term weights.
        run_dir: where checkpoints, sample grids and the loss log go.
        device: torch device.
        resume: continue from ``run_dir/student.ckpt`` when it exists.
        on_step: called after every step with (step, {term: value, …, "total": loss}).
        teacher_data: rendered pairs for the teacher and relative terms.

    Returns:
        The moving average of the student's weights, in eval mode.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = StudentNet(config.student).to(device)
    ema = StudentEMA(model, config.ema_half_life)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config.steps))
    batches = PairBatches(pairs, config.batch_size, config.augment, config.seed, config.window)
    objective = StudentObjective(config.objective, device, seed=config.seed + 2, image_channels=3)
    terms = _TeacherTerms(teacher_data, pairs, config, device) if teacher_data is not None else None
    start, earlier_seconds = 0, 0.0
    if resume and (run_dir / CHECKPOINT).is_file():
        start = _load_checkpoint(run_dir / CHECKPOINT, model, ema, optimizer, scheduler, batches, objective, terms)
        earlier_seconds = training_seconds(run_dir)
    began = time.perf_counter()
    log = _LossLog(run_dir / LOSS_LOG, start)
    preview = _preview_crops(pairs)
    model.train()
    for step in range(start, config.steps):
        x, y = (t.to(device) for t in batches.sample())
        loss, values = objective(x, y, model(x))
        if terms is not None:
            teacher_loss, teacher_values = terms.loss(model)
            loss = loss + teacher_loss
            values |= teacher_values
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        ema.update(model, step)
        done = step + 1
        values["total"] = float(loss.detach())
        log.add(done, values, last=done == config.steps)
        if on_step is not None:
            on_step(done, values)
        if done % config.sample_every == 0 or done == config.steps:
            _write_samples(run_dir / f"samples_{done:06d}.png", ema.model, preview, device)
        if done % config.checkpoint_every == 0 or done == config.steps:
            log.flush()
            seconds = earlier_seconds + time.perf_counter() - began
            _save_checkpoint(
                run_dir / CHECKPOINT, model, ema, optimizer, scheduler, batches, done, objective, terms, seconds
            )
    log.flush()
    return recalibrate_batchnorm(ema.model, lambda: batches.sample()[0])


@torch.no_grad()
def recalibrate_batchnorm(model: StudentNet, inputs: Callable[[], torch.Tensor], count: int = 64) -> StudentNet:
    """Re-measure a batch-normalised student's statistics on ``count`` batches from ``inputs()`` (photos the
    student will be given), in eval mode after.

    The running statistics were gathered under the live weights; the exported weights are their moving
    average, whose activations differ slightly. Without batch norm the model is returned as it is.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model.eval()
    device = next(model.parameters()).device
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    model.train()
    for _ in range(count):
        model(inputs().to(device))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


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


class _TeacherTerms:
    """GPD's teacher and relative terms on rendered pairs."""

    def __init__(self, data: TeacherData, pairs: AlignedPairs, config: DistillConfig, device: torch.device) -> None:
        self.data, self.config, self.device = data, config, device
        self.generator = torch.Generator().manual_seed(config.seed + 1)
        self.anchor_sources = torch.stack([to_tensor(pairs.crops(i)[0]) for i in range(len(pairs))]).to(device)

    def loss(self, model: StudentNet) -> tuple[torch.Tensor, dict[str, float]]:
        c, data = self.config, self.data
        index = torch.randint(0, data.sources.shape[0], (c.teacher_batch_size,), generator=self.generator)
        x = data.sources[index].to(self.device).float().div(127.5).sub(1)
        y = data.targets[index].to(self.device).float().div(127.5).sub(1)
        out = model(x)
        total, values = torch.zeros((), device=self.device), {}
        if c.teacher_weight > 0:
            weights = data.confidence[index].to(self.device)
            teacher = (weights * pixel_loss_per_sample(out, y, c.teacher_ssim)).mean()
            total, values["teacher"] = total + c.teacher_weight * teacher, float(teacher.detach())
        if c.relative_weight > 0:
            nearest = data.nearest[index].to(self.device)
            student_change = out - model(self.anchor_sources)[nearest]
            teacher_change = y - data.anchor_teacher.to(self.device)[nearest]
            relative = (
                (F.avg_pool2d(student_change, c.relative_lowpass) - F.avg_pool2d(teacher_change, c.relative_lowpass))
                .abs()
                .mean()
            )
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
    return float(torch.load(path, map_location="cpu", weights_only=True).get("seconds", 0.0))


def _save_checkpoint(
    path: Path,
    model,
    ema: StudentEMA,
    optimizer,
    scheduler,
    batches: PairBatches,
    step: int,
    objective,
    terms=None,
    seconds: float = 0.0,
) -> None:
    state = {
        "step": step,
        "seconds": seconds,
        "model": model.state_dict(),
        "ema": ema.model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "objective": objective.state_dict(),
        "terms": terms.state_dict() if terms is not None else {},
        "rng": json.dumps(batches.rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "saved_at": time.time(),
    }
    atomic_write(path, lambda f: torch.save(state, f))


def _load_checkpoint(
    path: Path, model, ema: StudentEMA, optimizer, scheduler, batches: PairBatches, objective, terms=None
) -> int:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    ema.model.load_state_dict(state["ema"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    objective.load_state_dict(state["objective"])
    batches.rng.bit_generator.state = json.loads(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    if terms is not None:
        terms.load_state_dict(state["terms"])
    return int(state["step"])
