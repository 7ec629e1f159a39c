"""Few-shot adaptation of the teacher: G_t starts as a copy of G_s and learns the K target exemplars.

Generator loss = non-saturating adversarial (with differentiable augmentation)
               + cross-domain correspondence (Ojha et al. 2021): for a batch of shared latents, the
                 softmax of each sample's feature similarities to the others must stay as it was in
                 G_s, so G_t(w) remains the same person as G_s(w)
               + anchor: ‖G_t(w_i) − y_i‖₁ on the projected exemplars.
A StyleGAN2 teacher's mapping network is frozen; a DCGAN has none. The discriminator is a small
DCGAN-style patch discriminator trained from scratch for every teacher (a StyleGAN2 checkpoint's own
discriminator is converted and kept beside the generator, but not used).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...imageio import atomic_write, to_uint8
from ..loop import Cadence, generator_part, load_training_state, module_part, run_steps, save_training_state
from ..progress import due
from ..student.augment_ops import diff_augment
from ..student.losses import discriminator_loss, generator_loss
from ..teachers.base import Teacher
from ..visual import save_grid
from .diagnostics import structure_similarity

CHECKPOINT = "adapt.ckpt"


@dataclass
class AdaptConfig:
    """Hyper-parameters of the adaptation.

    Attributes:
        steps: generator/discriminator step pairs.
        batch_size: latents per step.
        lr: Adam learning rate of G_t and D.
        adversarial_weight: weight of the non-saturating GAN loss.
        correspondence_weight: weight of the cross-domain correspondence loss.
        anchor_weight: weight of the L1 anchor reconstruction.
        truncation: truncation of the sampled latents.
        checkpoint_every: steps between checkpoints.
        sample_every: steps between sample grids (G_s(w) above G_t(w)).
        check_every: steps between correspondence checks (0: none).
        correspondence_drop: with a value above 0, the adaptation keeps the generator whose correspondence
            ratio (structure similarity of G_s(w) and G_t(w) for the same latents over that of shuffled pairs)
            is the highest seen from ``min_steps`` on, and stops once the ratio falls below this share of
            that best. 0: every step runs and the last generator is kept. Measured (docs/teachers.md, "Adaptation
            drift"): the ratio peaks, then falls as every G_t sample drifts toward the exemplars' face and
            hair; its level depends on the teacher and the style, hence a share of the best, not a floor.
        min_steps: checks before this step neither count as the best nor stop the run.
        seed: random seed.
    """

    steps: int = 300
    batch_size: int = 8
    lr: float = 2e-4
    adversarial_weight: float = 1.0
    correspondence_weight: float = 300.0  # the KL values are ~1e-3: weight 1 left it inert (docs/teachers.md)
    anchor_weight: float = 5.0
    truncation: float = 0.9
    checkpoint_every: int = 100
    sample_every: int = 100
    check_every: int = 25
    correspondence_drop: float = 0.0
    min_steps: int = 50
    seed: int = 0


CURVE = "adapt_curve.json"
PROBES = 32


class PatchDiscriminator(nn.Module):
    """Strided convolutions with spectral norm down to 4×4, then one score per image (``B 1``)."""

    def __init__(self, resolution: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, size = 3, resolution
        while size > 4:
            cout = min(width * 2 ** len(layers[::2]), 512)
            layers += [nn.utils.spectral_norm(nn.Conv2d(cin, cout, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            cin, size = cout, size // 2
        layers.append(nn.utils.spectral_norm(nn.Conv2d(cin, 1, 4, 1, 0)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


def _pairwise_similarities(features: torch.Tensor) -> torch.Tensor:
    """``B B-1``: cosine similarity of each sample's flattened features to every other sample's."""
    batch = features.shape[0]
    flat = F.normalize(features.flatten(1), dim=1)
    off_diagonal = ~torch.eye(batch, dtype=torch.bool, device=features.device)
    return (flat @ flat.T)[off_diagonal].view(batch, batch - 1)


def correspondence_loss(source_features: list[torch.Tensor], target_features: list[torch.Tensor]) -> torch.Tensor:
    """KL between the softmax-normalised pairwise cosine similarities of G_s's and G_t's features."""
    total = torch.zeros((), device=target_features[0].device)
    for fs, ft in zip(source_features, target_features, strict=True):
        p_source = F.softmax(_pairwise_similarities(fs.detach()), dim=1)
        log_p_target = F.log_softmax(_pairwise_similarities(ft), dim=1)
        total = total + F.kl_div(log_p_target, p_source, reduction="batchmean")
    return total / len(source_features)


def adapt(
    source: Teacher,
    targets: torch.Tensor,
    anchor_latents: torch.Tensor,
    config: AdaptConfig,
    run_dir: str | Path,
    resume: bool = False,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> Teacher:
    """Return G_t adapted to ``targets`` (``K 3 R R`` in [-1, 1]) whose projections are ``anchor_latents``.

    Checkpoints go to ``run_dir/adapt.ckpt`` (atomic) and sample grids to ``run_dir/adapt_*.png``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    device = source.device
    torch.manual_seed(config.seed)
    target_gen = copy.deepcopy(source).train()
    source.eval()
    for p in source.parameters():
        p.requires_grad_(False)
    trainable = list(target_gen.adaptable_parameters())
    for p in target_gen.parameters():
        p.requires_grad_(False)
    for p in trainable:
        p.requires_grad_(True)
    disc = PatchDiscriminator(source.resolution).to(device)
    opt_g = torch.optim.Adam(trainable, lr=config.lr, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=(0.0, 0.99))
    targets, anchor_latents = targets.to(device), anchor_latents.to(device)
    sampler = torch.Generator().manual_seed(config.seed)
    preview = source.sample_latents(8, torch.Generator().manual_seed(config.seed + 1), truncation=config.truncation)
    probes = source.sample_latents(PROBES, torch.Generator().manual_seed(config.seed + 2), truncation=config.truncation)
    parts = {
        "generator": module_part(target_gen),
        "discriminator": module_part(disc),
        "opt_g": module_part(opt_g),
        "opt_d": module_part(opt_d),
        "sampler": generator_part(sampler),
    }
    start, curve, best = 0, [], None  # best: (ratio, step, generator state)
    if resume and (run_dir / CHECKPOINT).is_file():
        state = load_training_state(run_dir / CHECKPOINT, "adaptation checkpoint", parts)
        start, curve = int(state["step"]), json.loads(state.get("curve", "[]"))
        if state.get("best_ratio") is not None:
            best = (float(state["best_ratio"]), int(state["best_step"]), state["best_generator"])

    def step(_index: int) -> dict[str, float]:
        latents = source.sample_latents(config.batch_size, sampler, truncation=config.truncation)
        real = targets[torch.randint(0, targets.shape[0], (config.batch_size,), generator=sampler).to(device)]
        return _step(source, target_gen, disc, opt_g, opt_d, latents, real, targets, anchor_latents, config, sampler)

    def check(done: int, losses: dict[str, float]) -> bool:
        nonlocal best
        if not (config.check_every and due(done, config.check_every, config.steps)):
            return False
        point = {"step": done, **correspondence(source, target_gen, probes), "anchor": losses["anchor"]}
        curve.append(point)
        atomic_write(run_dir / CURVE, lambda f: f.write(json.dumps(curve, indent=1).encode()))
        best, stop = _track_best(best, point["ratio"], done, target_gen, config)
        return stop

    def save(done: int, stopped: bool) -> None:
        save_training_state(
            run_dir / CHECKPOINT,
            config.steps if stopped else done,  # a stopped adaptation is finished for --resume
            parts,
            stopped_at=done if stopped else None,
            curve=json.dumps(curve),
            best_ratio=None if best is None else best[0],
            best_step=None if best is None else best[1],
            best_generator=None if best is None else best[2],
            config=json.dumps(asdict(config)),
        )

    run_steps(
        start,
        Cadence(config.steps, config.sample_every, config.checkpoint_every),
        step,
        write_samples=lambda done: write_pair_grid(run_dir / f"adapt_{done:06d}.png", source, target_gen, preview),
        save=save,
        on_step=on_step,
        should_stop=check,
    )
    if best is not None:
        target_gen.load_state_dict(best[2])
    for p in target_gen.parameters():
        p.requires_grad_(False)
    return target_gen.eval()


def _track_best(best, ratio: float, done: int, target_gen: Teacher, config: AdaptConfig):
    """``(best, stop)`` after a correspondence check: the best ratio and its generator so far, and whether the
    ratio has fallen below ``correspondence_drop`` of it."""
    if not config.correspondence_drop or done < config.min_steps:
        return best, False
    if best is None or ratio > best[0]:
        return (ratio, done, copy.deepcopy(target_gen.state_dict())), False
    return best, ratio < config.correspondence_drop * best[0]


@torch.no_grad()
def correspondence(source: Teacher, target: Teacher, latents: torch.Tensor) -> dict[str, float]:
    """Structure similarity of G_s(w) and G_t(w) for the same latents (``matched``), for shuffled pairs
    (``shuffled``), and their ratio: how much G_t(w) is still G_s(w)'s face."""
    xs, ys = source.synthesis(latents), target.synthesis(latents)
    matched = float(structure_similarity(xs, ys).mean())
    shuffled = float(structure_similarity(xs, torch.roll(ys, shifts=1, dims=0)).mean())
    return {"matched": matched, "shuffled": shuffled, "ratio": matched / max(shuffled, 1e-3)}


def _step(source, target_gen, disc, opt_g, opt_d, latents, real, targets, anchor_latents, config, sampler):
    # Discriminator: real exemplars vs G_t samples, both through the same kind of augmentation.
    with torch.no_grad():
        fake = target_gen.synthesis(latents)
    d_loss = discriminator_loss(disc(diff_augment(real, sampler)), disc(diff_augment(fake, sampler)))
    opt_d.zero_grad(set_to_none=True)
    d_loss.backward()
    opt_d.step()

    # Generator: fool D, keep the correspondence with G_s, reproduce the anchors.
    fake, target_features = target_gen.synthesis_with_features(latents)
    with torch.no_grad():
        _, source_features = source.synthesis_with_features(latents)
    adversarial = generator_loss(disc(diff_augment(fake, sampler)))
    correspondence = correspondence_loss(source_features, target_features)
    anchor = (target_gen.synthesis(anchor_latents) - targets).abs().mean()
    g_loss = (
        config.adversarial_weight * adversarial
        + config.correspondence_weight * correspondence
        + config.anchor_weight * anchor
    )
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    return {"d": d_loss.item(), "adv": adversarial.item(), "cdc": correspondence.item(), "anchor": anchor.item()}


@torch.no_grad()
def write_pair_grid(path: Path, source: Teacher, target_gen: Teacher, latents: torch.Tensor) -> Path:
    """G_s(w) in the top row, G_t(w) under each."""
    top = to_uint8(source.synthesis(latents).float())
    bottom = to_uint8(target_gen.synthesis(latents).float())
    return save_grid(path, [list(top), list(bottom)], tile=96)
