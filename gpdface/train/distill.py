"""Anchor-based distillation of the student (DESIGN §6.5).

Per step, with S the student, (x_i, y_i) the K anchors and (x̃, ỹ, w̃) pairs rendered by the teachers:
- anchor term: L_pix(S(x_i), y_i) on augmented anchors — the only real supervision;
- teacher term: c(w̃) · L_pix(S(x̃), ỹ), with c(w) = exp(−d(w, nearest anchor)² / 2σ²) and σ the median
  distance between anchors: pairs far from the real data count less;
- relative term: ‖low-pass(S(x̃) − S(x_a)) − low-pass(ỹ − G_t(w_a))‖₁ with a the nearest anchor: the
  student's change from the anchor follows the teacher's change, so the teacher's own error
  G_t(w_a) − y_a is not distilled;
- adversarial term: a patch discriminator on real targets vs student outputs (DiffAugment on both).
L_pix = L1 + multi-scale SSIM. Every term has a weight and is off at 0. Without teacher data only the
anchor term runs: that is the student trained on the pairs alone (with many pairs, the supervised reference).

Long runs checkpoint atomically every ``checkpoint_every`` steps and resume from the last checkpoint;
a sample grid (source, target, student) is written every ``sample_every`` steps.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..imageio import atomic_write, to_tensor, to_uint8
from ..nets.student import StudentConfig, StudentNet
from .adapt import PatchDiscriminator
from .augment_ops import diff_augment
from .data import AlignedPairs, Augment, PairBatches
from .losses import pixel_loss, pixel_loss_per_sample
from .perceptual import PerceptualLoss
from .visual import save_grid

CHECKPOINT = "student.ckpt"


@dataclass
class DistillConfig:
    """Hyper-parameters of student training.

    Attributes:
        steps: optimiser steps.
        batch_size: pairs per step.
        lr: Adam learning rate (cosine decay to 5 % of it).
        ssim_weight: weight of (1 − MS-SSIM) next to L1 in the pixel loss.
        anchor_weight: weight of the anchor term.
        teacher_weight: weight of the confidence-weighted teacher term.
        relative_weight: weight of the relative term.
        adversarial_weight: weight of the adversarial term (generator side).
        perceptual_weight: weight of the VGG-16 perceptual loss added to the anchor term; used only when
            its weights are already on disk (see ``perceptual.py``).
        teacher_batch_size: rendered pairs per step.
        lowpass: downscaling factor of the relative term's low-pass filter.
        augment: random geometry and photometric jitter; None for none.
        checkpoint_every: steps between checkpoints.
        sample_every: steps between sample grids.
        seed: seeds initialisation and batch sampling.
        student: the student's architecture.
    """

    steps: int = 1000
    batch_size: int = 8
    lr: float = 2e-3
    ssim_weight: float = 1.0
    anchor_weight: float = 1.0
    teacher_weight: float = 1.0
    relative_weight: float = 1.0
    adversarial_weight: float = 0.05
    perceptual_weight: float = 0.1
    teacher_batch_size: int = 8
    lowpass: int = 4
    augment: Augment | None = field(default_factory=Augment)
    checkpoint_every: int = 100
    sample_every: int = 200
    seed: int = 0
    student: StudentConfig = field(default_factory=StudentConfig)

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self)))


def _lr_factor(step: int, total: int) -> float:
    warmup = min(50, max(1, total // 20))
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


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
    on_step: Callable[[int, float], None] | None = None,
    teacher_data: TeacherData | None = None,
) -> StudentNet:
    """Train a student on the anchor ``pairs`` (and ``teacher_data`` when given); return it in eval mode.

    Args:
        pairs: aligned anchor pairs (x_i, y_i).
        config: hyper-parameters and term weights.
        run_dir: where checkpoints and sample grids go.
        device: torch device.
        resume: continue from ``run_dir/student.ckpt`` when it exists.
        on_step: called after every step with (step, loss), e.g. to advance a progress bar.
        teacher_data: rendered pairs for the teacher, relative and adversarial terms.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = StudentNet(config.student).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config.steps))
    batches = PairBatches(pairs, config.batch_size, config.augment, config.seed)
    terms = _TeacherTerms(teacher_data, pairs, config, device) if teacher_data is not None else None
    perceptual = PerceptualLoss.if_available() if config.perceptual_weight > 0 else None
    if perceptual is not None:
        perceptual = perceptual.to(device)
    start = 0
    if resume and (run_dir / CHECKPOINT).is_file():
        start = _load_checkpoint(run_dir / CHECKPOINT, model, optimizer, scheduler, batches, terms)
    preview = _preview_crops(pairs)
    model.train()
    for step in range(start, config.steps):
        x, y = (t.to(device) for t in batches.sample())
        out = model(x)
        loss = config.anchor_weight * pixel_loss(out, y, config.ssim_weight)
        if perceptual is not None:
            loss = loss + config.anchor_weight * config.perceptual_weight * perceptual(out, y)
        if terms is not None:
            loss = loss + terms.loss(model)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        done = step + 1
        if on_step is not None:
            on_step(done, loss.item())
        if done % config.sample_every == 0 or done == config.steps:
            _write_samples(run_dir / f"samples_{done:06d}.png", model, preview, device)
        if done % config.checkpoint_every == 0 or done == config.steps:
            _save_checkpoint(run_dir / CHECKPOINT, model, optimizer, scheduler, batches, done, terms)
    return model.eval()


class _TeacherTerms:
    """The teacher, relative and adversarial terms, with the discriminator they need."""

    def __init__(self, data: TeacherData, pairs: AlignedPairs, config: DistillConfig, device: torch.device) -> None:
        self.data, self.config, self.device = data, config, device
        self.generator = torch.Generator().manual_seed(config.seed + 1)
        crops = [pairs.crops(i) for i in range(len(pairs))]
        self.anchor_sources = torch.stack([to_tensor(x) for x, _ in crops]).to(device)  # K 3 R R
        self.anchor_targets = torch.stack([to_tensor(y) for _, y in crops]).to(device)
        self.disc = self.opt_d = None
        if config.adversarial_weight > 0:
            self.disc = PatchDiscriminator(config.student.resolution).to(device)
            self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=config.lr / 4, betas=(0.0, 0.99))

    def loss(self, model: StudentNet) -> torch.Tensor:
        c, data = self.config, self.data
        index = torch.randint(0, data.sources.shape[0], (c.teacher_batch_size,), generator=self.generator)
        x = data.sources[index].to(self.device).float().div(127.5).sub(1)
        y = data.targets[index].to(self.device).float().div(127.5).sub(1)
        out = model(x)
        total = torch.zeros((), device=self.device)
        if c.teacher_weight > 0:
            weights = data.confidence[index].to(self.device)
            total = total + c.teacher_weight * (weights * pixel_loss_per_sample(out, y, c.ssim_weight)).mean()
        if c.relative_weight > 0:
            nearest = data.nearest[index].to(self.device)
            student_change = out - model(self.anchor_sources)[nearest]
            teacher_change = y - data.anchor_teacher.to(self.device)[nearest]
            low = lambda t: F.avg_pool2d(t, c.lowpass)  # noqa: E731
            total = total + c.relative_weight * (low(student_change) - low(teacher_change)).abs().mean()
        if self.disc is not None:
            total = total + c.adversarial_weight * self._adversarial(out)
        return total

    def _adversarial(self, out: torch.Tensor) -> torch.Tensor:
        real = self.anchor_targets[
            torch.randint(0, self.anchor_targets.shape[0], (out.shape[0],), generator=self.generator).to(self.device)
        ]
        d_loss = (
            F.softplus(self.disc(diff_augment(out.detach(), self.generator))).mean()
            + F.softplus(-self.disc(diff_augment(real, self.generator))).mean()
        )
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        return F.softplus(-self.disc(diff_augment(out, self.generator))).mean()

    def state_dict(self) -> dict:
        state = {"generator": self.generator.get_state()}
        if self.disc is not None:
            state |= {"disc": self.disc.state_dict(), "opt_d": self.opt_d.state_dict()}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        if self.disc is not None:
            self.disc.load_state_dict(state["disc"])
            self.opt_d.load_state_dict(state["opt_d"])


def _preview_crops(pairs: AlignedPairs, count: int = 6) -> list[tuple[np.ndarray, np.ndarray]]:
    indices = np.linspace(0, len(pairs) - 1, min(count, len(pairs))).round().astype(int)
    return [pairs.crops(int(i)) for i in indices]


@torch.no_grad()
def _write_samples(path: Path, model: StudentNet, preview, device: torch.device) -> None:
    was_training = model.training
    model.eval()
    x = torch.stack([to_tensor(source) for source, _ in preview]).to(device)
    outputs = to_uint8(model(x).float())
    model.train(was_training)
    save_grid(path, [[s for s, _ in preview], [t for _, t in preview], list(outputs)])


def _save_checkpoint(path: Path, model, optimizer, scheduler, batches: PairBatches, step: int, terms=None) -> None:
    state = {
        "terms": terms.state_dict() if terms is not None else {},
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": json.dumps(batches.rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "saved_at": time.time(),
    }
    atomic_write(path, lambda f: torch.save(state, f))


def _load_checkpoint(path: Path, model, optimizer, scheduler, batches: PairBatches, terms=None) -> int:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    batches.rng.bit_generator.state = json.loads(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    if terms is not None:
        terms.load_state_dict(state["terms"])
    return int(state["step"])
