"""Pretrain a small teacher GAN on aligned real faces (``gpdface pretrain-teacher``).

Recipe (chosen by measured CPU throughput, see ``benchmarks/teacher_candidates.py``): the DCGAN
generator layout the ``dcgan`` teacher type already reads, a mirrored convolutional discriminator,
the non-saturating loss, DiffAugment (colour, translation, cutout) on everything the discriminator sees,
horizontal flips of the real faces, and an exponential moving average (EMA) of the generator weights,
whose BatchNorm statistics are re-estimated at the end. The EMA generator is the teacher.

Checkpoints are atomic and the run resumes from the last one; a sample grid (fixed latents) is written
as training goes.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...imageio import to_uint8
from ..loop import (
    Cadence,
    ema_update,
    generator_part,
    load_training_state,
    module_part,
    recalibrate_batchnorm,
    run_steps,
    save_training_state,
)
from ..student.augment_ops import diff_augment
from ..student.losses import discriminator_loss, generator_loss
from ..visual import save_grid
from .dcgan import dcgan_channels, dcgan_generator, generator_resolution, generator_shape

CHECKPOINT = "gan.ckpt"


@dataclass
class PretrainConfig:
    """Hyper-parameters of teacher pretraining.

    Attributes:
        resolution: side of the generated faces (64 or 128).
        width: channels of the last generator layer (and first discriminator layer); others are multiples.
        latent_dim: size of z.
        batch_size: real and generated images per step.
        kimg: thousands of real images shown to the discriminator in all (the length of training).
        lr: Adam learning rate of both networks.
        ema_kimg: half-life of the generator EMA, in thousands of images.
        augment: DiffAugment before the discriminator.
        checkpoint_every: steps between checkpoints.
        sample_every: steps between sample grids.
        seed: seeds initialisation, batches and the preview latents.
        grow_from: the teacher a larger generator was grown from ("" when trained from scratch): recorded
            here, resolved by the caller (``pretrain_gan``'s ``grow_from`` is its generator state).
        frozen_kimg: when grown, thousands of images during which the inherited layers stay fixed and only
            the new top layer (and the discriminator) learn, as progressive growing trains new layers first.
        start_enlarged: when grown, the new top octave starts by drawing the smaller generator's image
            enlarged (bilinear), so training adds detail to faces it already draws; otherwise it starts as from
            scratch (progressive growing fades a new layer in for the same reason).
        resize_top: keep the RGB layer (a 4×4 stride-2 transposed convolution) in the form of a nearest ×2
            enlargement followed by a 3×3 convolution, by projecting its weight after every step. A free
            transposed convolution gives its four output phases different sums, so flat regions come out as a
            two-pixel grid; in this form every phase sums the same taps. The teacher keeps the plain layout.
    """

    resolution: int = 64
    width: int = 48
    latent_dim: int = 100
    batch_size: int = 64
    kimg: float = 200
    lr: float = 2e-4
    ema_kimg: float = 10.0
    augment: bool = True
    checkpoint_every: int = 100
    sample_every: int = 500
    seed: int = 0
    grow_from: str = ""
    frozen_kimg: float = 0.0
    start_enlarged: bool = False
    resize_top: bool = False

    @property
    def steps(self) -> int:
        return math.ceil(self.kimg * 1000 / self.batch_size)

    @property
    def frozen_steps(self) -> int:
        return math.ceil(self.frozen_kimg * 1000 / self.batch_size)

    def to_dict(self) -> dict:
        return asdict(self)


def dcgan_discriminator(width: int, resolution: int) -> nn.Sequential:
    """Strided 4×4 convolutions down to 4 px, LeakyReLU (BatchNorm after the first), one logit per image."""
    octaves = int(math.log2(resolution)) - 2  # halvings from resolution to 4 px
    channels = [width * min(8, 2**i) for i in range(octaves)]  # 64 px: w 2w 4w 8w
    layers: list[nn.Module] = [nn.Conv2d(3, channels[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]
    for cin, cout in itertools.pairwise(channels):
        layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
    return nn.Sequential(*layers, nn.Conv2d(channels[-1], 1, 4, 1, 0), nn.Flatten())


def _init_weights(module: nn.Module) -> None:
    """The DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) BatchNorm scales."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def grown_generator(
    smaller: dict[str, torch.Tensor], enlarged_from: torch.Tensor | None = None
) -> tuple[nn.Sequential, int]:
    """A generator one octave larger than ``smaller`` (``main.*`` keys), holding its layers; and their count.

    Every layer of the smaller generator but its RGB layer is kept; one ×2 layer of half the last width and
    a new RGB layer are added on top, initialised as from scratch, or, given latents ``enlarged_from``
    (``B latent 1 1``, a training-size batch), so that the grown generator starts by drawing the smaller
    one's image enlarged (see ``_start_enlarged``).
    """
    latent_dim, channels = generator_shape(smaller)
    generator = dcgan_generator(latent_dim, [*channels, max(channels[-1] // 2, 1)])
    generator.apply(_init_weights)
    inherited = 3 * len(channels)  # seed block + one block per ×2 layer, each ConvT, BatchNorm, ReLU
    kept = {k[len("main.") :]: v for k, v in smaller.items() if int(k.split(".")[1]) < inherited}
    missing, unexpected = generator.load_state_dict(kept, strict=False)
    if unexpected or any(int(k.split(".")[0]) < inherited for k in missing):
        raise ValueError("the generator to grow from is not a DCGAN generator")
    if enlarged_from is not None:
        _start_enlarged(generator, smaller[f"main.{inherited}.weight"], inherited, enlarged_from)
    return generator, inherited


# ConvTranspose2d(kernel 4, stride 2, padding 1) with these taps per axis is bilinear ×2 enlargement
_BILINEAR_X2 = torch.tensor([0.25, 0.75, 0.75, 0.25])


@torch.no_grad()
def _start_enlarged(generator: nn.Sequential, smaller_rgb: torch.Tensor, inherited: int, latents: torch.Tensor) -> None:
    """Set the new top octave so the grown generator draws ≈ the smaller one's image, bilinearly enlarged.

    The new ×2 layer's first six channels compute the smaller RGB layer's pre-tanh output ``r`` and ``-r``;
    its BatchNorm (batch statistics while training) is set to undo its own normalisation on them, measured
    on ``latents``; after the ReLU they hold ``relu(r)`` and ``relu(-r)``, which the new RGB layer subtracts
    and enlarges bilinearly: ``tanh(bilinear(r))`` ≈ the smaller image enlarged. The remaining channels start
    random but unread (their RGB weights are zero), free to learn detail as a zero-initialised residual does.
    """
    grow, norm, rgb = generator[inherited], generator[inherited + 1], generator[inherited + 3]
    if grow.out_channels < 6:
        raise ValueError(f"an enlarged start needs ≥ 6 channels in the new layer, not {grow.out_channels}")
    grow.weight[:, 0:3] = smaller_rgb
    grow.weight[:, 3:6] = -smaller_rgb
    probe = copy.deepcopy(generator[: inherited + 1]).train()  # a copy: the probe leaves running stats alone
    features = probe(latents)[:, :6]
    mean, var = features.mean((0, 2, 3)), features.var((0, 2, 3), unbiased=False)
    norm.weight[:6], norm.bias[:6] = torch.sqrt(var + norm.eps), mean
    norm.running_mean[:6], norm.running_var[:6] = mean, var
    taps = torch.outer(_BILINEAR_X2, _BILINEAR_X2)
    rgb.weight.zero_()
    for channel in range(3):
        rgb.weight[channel, channel] = taps
        rgb.weight[3 + channel, channel] = -taps


# per axis, nearest ×2 then a 3-tap convolution (k0 k1 k2) is a stride-2 transposed convolution with taps
# (k2, k1 + k2, k0 + k1, k0); the weights of that form are a subspace, and this is its orthogonal projector
_RESIZE_TAPS = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
_RESIZE_PROJECTOR = _RESIZE_TAPS @ torch.linalg.pinv(_RESIZE_TAPS)


@torch.no_grad()
def project_to_resize_convolution(layer: nn.ConvTranspose2d) -> None:
    """Replace a 4×4 stride-2 transposed convolution's weight by its nearest form of resize-then-3×3-convolution."""
    projector = _RESIZE_PROJECTOR.to(layer.weight)
    layer.weight.copy_(torch.einsum("ij,abjk,lk->abil", projector, layer.weight, projector))


class _Models(nn.Module):
    def __init__(self, config: PretrainConfig, grow_from: dict[str, torch.Tensor] | None) -> None:
        super().__init__()
        if grow_from is None:  # built in this order (both, then initialised) so seeds give the weights they gave
            self.main = dcgan_generator(config.latent_dim, dcgan_channels(config.width, config.resolution))
            self.disc = dcgan_discriminator(config.width, config.resolution)
            self.main.apply(_init_weights)
            self.inherited = 0
        else:
            latent_dim, channels = generator_shape(grow_from)
            resolution = 2 * generator_resolution(channels)
            if resolution != config.resolution or latent_dim != config.latent_dim:
                raise ValueError(
                    f"the grown generator draws {resolution} px from {latent_dim}-d latents; "
                    f"the configuration asks {config.resolution} px from {config.latent_dim}-d"
                )
            start = None
            if config.start_enlarged:  # seeded apart from training's own numbers: runs repeat either way
                start = torch.randn(
                    config.batch_size, latent_dim, 1, 1, generator=torch.Generator().manual_seed(config.seed + 3)
                )
            self.main, self.inherited = grown_generator(grow_from, enlarged_from=start)
            self.disc = dcgan_discriminator(config.width, config.resolution)
        self.disc.apply(_init_weights)
        self.resize_top = config.resize_top
        self.project_top()
        self.ema = copy.deepcopy(self.main).requires_grad_(False)

    def project_top(self) -> None:
        if self.resize_top:
            project_to_resize_convolution(self.main[-2])  # the RGB layer, before the tanh

    def generator_groups(self) -> list[dict]:
        """Adam parameter groups: the inherited layers first (their rate is 0 while frozen), then the rest."""
        inherited = [p for layer in self.main[: self.inherited] for p in layer.parameters()]
        new = [p for layer in self.main[self.inherited :] for p in layer.parameters()]
        return [{"params": inherited}, {"params": new}] if inherited else [{"params": new}]


def pretrain_gan(
    faces: np.ndarray,
    config: PretrainConfig,
    run_dir: str | Path,
    resume: bool = True,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
    grow_from: dict[str, torch.Tensor] | None = None,
    device: str | torch.device = "cpu",
) -> dict[str, torch.Tensor]:
    """Train on ``faces`` (``N R R 3`` uint8, aligned); return the EMA generator's state (``main.*`` keys).

    Args:
        faces: the training faces.
        config: hyper-parameters.
        run_dir: checkpoints and sample grids.
        resume: continue from ``run_dir/gan.ckpt`` when it exists.
        on_step: called after each step with (step, {"d": loss, "g": loss}).
        grow_from: a generator one octave smaller (``main.*`` keys) to grow from (``config.grow_from`` names it).
        device: where the networks train. Every random number is drawn on the CPU from the seeded generator
            (then moved), so a run's batches, latents and augmentations are the same on any device.
    """
    if faces.ndim != 4 or faces.shape[1:] != (config.resolution, config.resolution, 3):
        raise ValueError(f"faces must be N {config.resolution} {config.resolution} 3, got {faces.shape}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(config.seed)
    if bool(grow_from) != bool(config.grow_from):
        raise ValueError("config.grow_from names the generator grown from; pass its state as grow_from")
    models = _Models(config, grow_from).to(device)
    opt_g = torch.optim.Adam(models.generator_groups(), lr=config.lr, betas=(0.5, 0.99))
    opt_d = torch.optim.Adam(models.disc.parameters(), lr=config.lr, betas=(0.5, 0.99))
    rng = torch.Generator().manual_seed(config.seed)
    preview = torch.randn(32, config.latent_dim, 1, 1, generator=torch.Generator().manual_seed(config.seed + 1))
    preview = preview.to(device)
    real_all = torch.from_numpy(faces).permute(0, 3, 1, 2)  # N 3 R R uint8, converted per batch
    parts = {
        "models": module_part(models),
        "opt_g": module_part(opt_g),
        "opt_d": module_part(opt_d),
        "rng": generator_part(rng),
    }
    start = 0
    if resume and (run_dir / CHECKPOINT).is_file():
        start = int(load_training_state(run_dir / CHECKPOINT, "pretraining checkpoint", parts)["step"])
    ema_beta = 0.5 ** (config.batch_size / (config.ema_kimg * 1000))
    models.main.train()
    models.disc.train()

    def step(index: int) -> dict[str, float]:
        if models.inherited:  # set every step (not once), so a resumed run freezes exactly as an unbroken one
            opt_g.param_groups[0]["lr"] = 0.0 if index < config.frozen_steps else config.lr
        losses = _train_step(models, opt_g, opt_d, real_all, config, rng)
        models.project_top()
        ema_update(models.ema, models.main, index, ema_beta, buffers=False)
        return losses

    run_steps(
        start,
        Cadence(config.steps, config.sample_every, config.checkpoint_every),
        step,
        write_samples=lambda done: _write_samples(run_dir / f"samples_{done:06d}.png", models, preview, config),
        save=lambda done, _: save_training_state(
            run_dir / CHECKPOINT, done, parts, config=json.dumps(config.to_dict())
        ),
        on_step=on_step,
    )
    generator = _calibrated(models, config)
    return {f"main.{k}": v.detach().cpu().clone() for k, v in generator.state_dict().items()}


def _train_step(models: _Models, opt_g, opt_d, real_all: torch.Tensor, config: PretrainConfig, rng) -> dict:
    batch = config.batch_size
    index = torch.randint(0, real_all.shape[0], (batch,), generator=rng)
    device = next(models.main.parameters()).device
    real = real_all[index].to(device).float().div(127.5).sub(1)  # B 3 R R in [-1, 1]
    flip = (torch.rand(batch, generator=rng) < 0.5).to(device)
    real = torch.where(flip[:, None, None, None], real.flip(3), real)
    z = torch.randn(batch, config.latent_dim, 1, 1, generator=rng).to(device)
    augment = (lambda x: diff_augment(x, rng)) if config.augment else (lambda x: x)

    fake = models.main(z)  # B 3 R R
    d_loss = discriminator_loss(models.disc(augment(real)), models.disc(augment(fake.detach())))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    g_loss = generator_loss(models.disc(augment(fake)))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d": d_loss.item(), "g": g_loss.item()}


@torch.no_grad()
def _calibrated(models: _Models, config: PretrainConfig, samples: int = 4096, batch: int = 256) -> nn.Sequential:
    """A copy of the EMA generator whose BatchNorm statistics are measured on its own activations.

    The training generator's running statistics belong to the training weights, not to their average;
    the teacher runs with fixed statistics, so they are re-estimated (a plain mean over ``samples``).
    """
    rng = torch.Generator().manual_seed(config.seed + 2)
    latents = lambda: torch.randn(batch, config.latent_dim, 1, 1, generator=rng)  # noqa: E731
    return recalibrate_batchnorm(copy.deepcopy(models.ema), latents, samples // batch)


def _write_samples(path: Path, models: _Models, preview: torch.Tensor, config: PretrainConfig) -> None:
    images = to_uint8(_calibrated(models, config, samples=1024)(preview))
    save_grid(path, [list(images[row * 8 : (row + 1) * 8]) for row in range(4)])
