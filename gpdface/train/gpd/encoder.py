"""A learned encoder into the source generator's latent space: photo (at the teacher's
resolution) → latent code, so that every real photo of a face bank gets a teacher target G_t(E(x)).

It is trained on G_s's own samples, whose latents are known: a latent term (the code comes back) and an
image term (G_s of the code reproduces the sample, which is what matters where the latent space has flat
directions). At 64 px this costs a minute or two on two CPU cores. ``encode`` then maps real photos and,
optionally, refines each code with a few projection steps against the photo itself.

How well G_s(E(x)) reconstructs a photo is the confidence of its teacher target: a photo the generator
cannot reproduce gets a target that says little about it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ...checkpoint import load_checkpoint
from ...imageio import atomic_write
from ...shapes import check_shape
from ..loop import cosine_with_warmup
from ..progress import due
from ..student.losses import ms_ssim
from ..teachers.base import Teacher

CHECKPOINT = "encoder.ckpt"


@dataclass(frozen=True)
class EncoderConfig:
    """Hyper-parameters of the encoder and its training.

    Attributes:
        steps: Adam steps.
        batch_size: G_s samples per step.
        lr: learning rate (cosine decay to 5 %).
        width: channels of the first layer (doubled per stride-2 layer).
        image_weight: weight of the image term next to the latent term.
        truncation: truncation of the training latents (the ones teacher pairs are drawn with).
        checkpoint_every: steps between checkpoints.
        seed: random seed.
    """

    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    width: int = 32
    image_weight: float = 1.0
    truncation: float = 1.0
    checkpoint_every: int = 250
    seed: int = 0


class LatentEncoder(nn.Module):
    """Strided convolutions down to 4×4, then a linear layer to the flattened latent (``B *latent_shape``)."""

    def __init__(self, resolution: int, latent_shape: tuple[int, ...], width: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels, size = 3, resolution
        while size > 4:
            out = min(width * 2 ** len(layers[::3]), 256)
            layers += [nn.Conv2d(channels, out, 4, 2, 1), nn.BatchNorm2d(out), nn.LeakyReLU(0.2)]
            channels, size = out, size // 2
        self.features = nn.Sequential(*layers)
        self.latent_shape = tuple(latent_shape)
        self.head = nn.Linear(channels * 16, int(torch.tensor(latent_shape).prod()))
        self.resolution = resolution

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_shape(images, f"B 3 {self.resolution} {self.resolution}", "encoder input")
        return self.head(self.features(images).flatten(1)).view(images.shape[0], *self.latent_shape)


def train_encoder(
    teacher: Teacher,
    config: EncoderConfig,
    run_dir: str | Path,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> LatentEncoder:
    """Train an encoder for ``teacher`` on its own samples; return it in eval mode.

    Checkpoints go to ``run_dir/encoder.ckpt`` (atomic); ``resume`` continues from there.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = teacher.device
    torch.manual_seed(config.seed)
    encoder = LatentEncoder(teacher.resolution, teacher.latent_shape, config.width).to(device)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr, betas=(0.9, 0.99))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_with_warmup(s, config.steps))
    sampler = torch.Generator().manual_seed(config.seed)
    start = 0
    path = run_dir / CHECKPOINT
    if resume and path.is_file():
        state = load_checkpoint(path, "encoder checkpoint")
        encoder.load_state_dict(state["encoder"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        sampler.set_state(state["sampler"])
        start = int(state["step"])
    flags = [p.requires_grad for p in teacher.parameters()]
    teacher.requires_grad_(False)
    encoder.train()
    try:
        for step in range(start, config.steps):
            latents = teacher.sample_latents(config.batch_size, sampler, truncation=config.truncation)
            with torch.no_grad():
                images = teacher.synthesis(latents)
            guessed = encoder(images)
            latent_term = (guessed - latents).pow(2).mean()
            image_term = (teacher.synthesis(guessed) - images).abs().mean()
            loss = latent_term + config.image_weight * image_term
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            done = step + 1
            if on_step is not None:
                on_step(done, {"latent": latent_term.item(), "image": image_term.item()})
            if due(done, config.checkpoint_every, config.steps):
                state = {
                    "step": done,
                    "encoder": encoder.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "sampler": sampler.get_state(),
                    "config": json.dumps(asdict(config)),
                }
                atomic_write(path, lambda f, s=state: torch.save(s, f))
    finally:
        for p, flag in zip(teacher.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    return encoder.eval()


@dataclass
class Encoded:
    """Latents of a batch of photos and how well the source generator reproduces each photo from them.

    Attributes:
        latents: ``N *latent_shape``.
        errors: ``N`` reconstruction error of G_s(latent) against the photo: mean L1 + (1 − MS-SSIM).
    """

    latents: torch.Tensor
    errors: torch.Tensor


def reconstruction_error(generated: torch.Tensor, photos: torch.Tensor) -> torch.Tensor:
    """Per image: mean L1 + (1 − MS-SSIM) of ``B 3 R R`` images in [-1, 1]."""
    l1 = (generated - photos).abs().flatten(1).mean(1)
    return l1 + (1 - ms_ssim((generated + 1) / 2, (photos + 1) / 2))


def encode(
    teacher: Teacher,
    encoder: LatentEncoder,
    photos: torch.Tensor,
    refine_steps: int = 0,
    refine_lr: float = 0.02,
    batch_size: int = 128,
) -> Encoded:
    """Latents for ``photos`` (``N 3 R R`` in [-1, 1], in the teacher's frame and resolution).

    Args:
        teacher: the source generator G_s.
        encoder: trained by ``train_encoder``.
        photos: the photos, at the teacher's resolution.
        refine_steps: Adam steps that refine each code against its photo (0: the encoder's guess).
        refine_lr: their learning rate.
        batch_size: photos per batch.
    """
    check_shape(photos, f"N 3 {teacher.resolution} {teacher.resolution}", "photos")
    latents, errors = [], []
    flags = [p.requires_grad for p in teacher.parameters()]
    teacher.requires_grad_(False)
    try:
        for batch in photos.split(batch_size):
            batch = batch.to(teacher.device)
            with torch.no_grad():
                code = encoder(batch)
            if refine_steps > 0:
                code = _refine(teacher, code, batch, refine_steps, refine_lr)
            with torch.no_grad():
                errors.append(reconstruction_error(teacher.synthesis(code), batch).cpu())
            latents.append(code.detach().cpu())
    finally:
        for p, flag in zip(teacher.parameters(), flags, strict=True):
            p.requires_grad_(flag)
    return Encoded(torch.cat(latents), torch.cat(errors))


def _refine(teacher: Teacher, code: torch.Tensor, photos: torch.Tensor, steps: int, lr: float) -> torch.Tensor:
    code = copy.deepcopy(code).requires_grad_(True)
    optimizer = torch.optim.Adam([code], lr=lr)
    for _ in range(steps):
        loss = reconstruction_error(teacher.synthesis(code), photos).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return code.detach()
