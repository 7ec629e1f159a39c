"""Training the student on aligned pairs.

This is the anchor term of GPD's distillation (DESIGN §6.5): the student learns the real exemplar
pairs with L1 + multi-scale SSIM. With many pairs (e.g. CUFS's 268) it is the fully supervised
reference; the teacher, relative and adversarial terms build on the same loop.

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

from ..imageio import atomic_write, to_tensor, to_uint8
from ..nets.student import StudentConfig, StudentNet
from .data import AlignedPairs, Augment, PairBatches
from .losses import pixel_loss
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


def train_on_pairs(
    pairs: AlignedPairs,
    config: DistillConfig,
    run_dir: str | Path,
    device: torch.device,
    resume: bool = False,
    on_step: Callable[[int, float], None] | None = None,
) -> StudentNet:
    """Train a student on ``pairs`` and return it (eval mode, on ``device``).

    Args:
        pairs: aligned exemplar pairs.
        config: hyper-parameters.
        run_dir: where checkpoints and sample grids go.
        device: torch device.
        resume: continue from ``run_dir/student.ckpt`` when it exists.
        on_step: called after every step with (step, loss), e.g. to advance a progress bar.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    model = StudentNet(config.student).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.5, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, config.steps))
    batches = PairBatches(pairs, config.batch_size, config.augment, config.seed)
    start = 0
    if resume and (run_dir / CHECKPOINT).is_file():
        start = _load_checkpoint(run_dir / CHECKPOINT, model, optimizer, scheduler, batches)
    preview = _preview_crops(pairs)
    model.train()
    for step in range(start, config.steps):
        x, y = (t.to(device) for t in batches.sample())
        loss = pixel_loss(model(x), y, config.ssim_weight)
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
            _save_checkpoint(run_dir / CHECKPOINT, model, optimizer, scheduler, batches, done)
    return model.eval()


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


def _save_checkpoint(path: Path, model, optimizer, scheduler, batches: PairBatches, step: int) -> None:
    state = {
        "step": step,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": json.dumps(batches.rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
        "saved_at": time.time(),
    }
    atomic_write(path, lambda f: torch.save(state, f))


def _load_checkpoint(path: Path, model, optimizer, scheduler, batches: PairBatches) -> int:
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state["model"], strict=True)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    batches.rng.bit_generator.state = json.loads(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    return int(state["step"])
