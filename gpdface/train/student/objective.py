"""What a student is trained to minimise: strokes from a conditional multi-scale patch discriminator, tone
from a low-passed pixel term. One module for every way a student is trained — ``finetune
--pairs``, the few-shot path and the benchmarks — so all of them measure the same objective.

Why not L1 + SSIM: with a pixel loss the best guess of a pencil stroke whose exact place the photo does not
fix is the mean of all places, a smooth grey; the students trained that way drew no strokes (docs/sketch.md, "What
the styles draw"). The remedy is pix2pix's: let a discriminator judge local texture, keep a pixel term for
what the photo does fix — the tone of each region — and stop it from judging texture by low-passing it.

Generator terms, each with a weight in ``ObjectiveConfig`` and absent at weight 0:

- ``lowpass_l1``: L1 between output and target after a ``lowpass``× box filter: where tones go, not how
  strokes look; it also tolerates a drawing that does not lie pixel-exactly on its photo.
- ``ssim``: 1 − MS-SSIM at full resolution (off by default: it pulls towards the mean stroke again).
- ``adversarial``: hinge loss of a multi-scale patch discriminator that sees (photo, stylization) pairs
  (or the stylization alone when ``conditional`` is False), so a stroke must suit its place in the photo.
- ``feature_matching``: L1 between the discriminator's features of the real and the generated pair
  (pix2pixHD); it steadies the game and ties strokes to where the real ones are.

Real and generated pairs go through the same DiffAugment draw (translation, cutout, colour), so a
discriminator that has seen only a few pairs cannot win by memorising them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ...errors import InputError
from ...recipe import OBJECTIVE_TERMS
from ...shapes import check_shape
from .augment_ops import AugmentDraw, diff_augment
from .losses import ms_ssim

TERMS = OBJECTIVE_TERMS  # defined with the recipe, so a recipe names exactly the terms that exist
MIN_DISC_INPUT = 32  # a scale whose input is smaller would shrink below one logit


@dataclass(frozen=True)
class ObjectiveConfig:
    """Weights of the generator terms (0 switches a term off) and the discriminator's shape.

    Attributes:
        lowpass_l1: weight of the low-passed L1 term.
        ssim: weight of 1 − MS-SSIM.
        adversarial: weight of the generator's hinge loss.
        feature_matching: weight of discriminator feature matching.
        lowpass: box-filter factor of ``lowpass_l1``.
        conditional: the discriminator sees the photo beside its stylization.
        augment: DiffAugment before the discriminator.
        scales: discriminators, each on a 2× smaller copy of the last one's input.
        disc_width: channels of each discriminator's first layer (doubled per layer).
        disc_layers: stride-2 layers per discriminator.
        disc_lr: Adam learning rate of the discriminators.
    """

    lowpass_l1: float = 10.0
    ssim: float = 0.0
    adversarial: float = 1.0
    feature_matching: float = 10.0
    lowpass: int = 4
    conditional: bool = True
    augment: bool = True
    scales: int = 2
    disc_width: int = 32
    disc_layers: int = 3
    disc_lr: float = 2e-4

    def __post_init__(self) -> None:
        for name in TERMS:
            if getattr(self, name) < 0:
                raise InputError(f"the weight of {name} must be ≥ 0, got {getattr(self, name)}")
        if self.lowpass < 1 or self.scales < 1 or self.disc_layers < 1 or self.disc_width < 1:
            raise InputError("lowpass, scales, disc_layers and disc_width must be at least 1")

    @property
    def needs_discriminator(self) -> bool:
        return self.adversarial > 0 or self.feature_matching > 0

    def weights(self) -> dict[str, float]:
        """``{term: weight}`` of every term."""
        return {name: float(getattr(self, name)) for name in TERMS}


class _PatchLayers(nn.Module):
    """One patch discriminator: stride-2 4×4 convolutions, a stride-1 one, then a map of logits.

    Spectral norm on every convolution and no normalisation layer: the hinge game stays stable with the
    batch sizes of 2 CPU cores.
    """

    def __init__(self, in_channels: int, width: int, layers: int) -> None:
        super().__init__()
        blocks, channels = [], in_channels
        for index in range(layers):
            out = min(width * 2**index, 512)
            blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(channels, out, 4, 2, 1)), nn.LeakyReLU(0.2)))
            channels = out
        blocks.append(nn.Sequential(spectral_norm(nn.Conv2d(channels, channels, 4, 1, 1)), nn.LeakyReLU(0.2)))
        blocks.append(spectral_norm(nn.Conv2d(channels, 1, 4, 1, 1)))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features  # the last one is the B 1 h w map of logits


class MultiScalePatchDiscriminator(nn.Module):
    """``scales`` patch discriminators, the ``s``-th on the input average-pooled ``2^s``× (pix2pixHD).

    Returns, per scale that fits the input, the list of its feature maps (logits last).
    """

    def __init__(self, in_channels: int, width: int = 32, layers: int = 3, scales: int = 2) -> None:
        super().__init__()
        self.discriminators = nn.ModuleList(_PatchLayers(in_channels, width, layers) for _ in range(scales))

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        outputs = []
        for index, disc in enumerate(self.discriminators):
            if index:
                x = F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            if min(x.shape[-2:]) < MIN_DISC_INPUT:
                break
            outputs.append(disc(x))
        return outputs


def lowpass_l1(output: torch.Tensor, target: torch.Tensor, factor: int) -> torch.Tensor:
    """Mean L1 between ``factor``× box-filtered images."""
    if factor > 1:
        output, target = F.avg_pool2d(output, factor, ceil_mode=True), F.avg_pool2d(target, factor, ceil_mode=True)
    return (output - target).abs().mean()


class StudentObjective:
    """The terms above, with the discriminator and its optimiser; call it once per training step.

    Each call first gives the discriminator one step (real pairs against the detached generated ones),
    then returns the generator's terms. ``state_dict`` / ``load_state_dict`` carry the discriminator, its
    optimiser and the augmentation's random state across a resume.

    Args:
        config: weights and discriminator shape.
        device: where the discriminator lives.
        seed: seeds the augmentation draws (the discriminator's initialisation follows torch's global seed).
        image_channels: channels of the stylization (and of the photo it is conditioned on).
    """

    def __init__(self, config: ObjectiveConfig, device: torch.device, seed: int = 0, image_channels: int = 3) -> None:
        self.config, self.device = config, device
        self.generator = torch.Generator().manual_seed(seed)
        self.disc: MultiScalePatchDiscriminator | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        if config.needs_discriminator:
            in_channels = image_channels * (2 if config.conditional else 1)
            self.disc = MultiScalePatchDiscriminator(in_channels, config.disc_width, config.disc_layers, config.scales)
            self.disc.to(device)
            self.optimizer = torch.optim.Adam(self.disc.parameters(), lr=config.disc_lr, betas=(0.0, 0.99))

    def __call__(
        self,
        source: torch.Tensor,
        target: torch.Tensor,
        output: torch.Tensor,
        extra_fakes: torch.Tensor | None = None,
        extra_sources: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The weighted sum of the generator terms for a batch, and every term's value for the log.

        Args:
            source: ``B C H W`` photos the student was given, in [-1, 1].
            target: ``B C H W`` real stylizations of those photos.
            output: ``B C H W`` the student's outputs (with gradients).
            extra_fakes: ``B' C H W`` more of the student's outputs, for photos without a real
                stylization (the face bank): the discriminator judges them too.
            extra_sources: ``B' C H W`` the photos of ``extra_fakes``, which a conditional discriminator sees
                beside them (required then; unused by an unconditional one).

        Returns:
            ``(loss, values)``: ``values`` holds each active term unweighted and ``disc`` (the
            discriminator's hinge loss), as floats.
        """
        sizes = check_shape(source, "B C H W", "source")
        check_shape(target, " ".join(str(sizes[k]) for k in "BCHW"), "target")
        check_shape(output, " ".join(str(sizes[k]) for k in "BCHW"), "output")
        c = self.config
        if extra_fakes is not None:
            check_shape(extra_fakes, f"* {sizes['C']} {sizes['H']} {sizes['W']}", "extra fakes")
            if c.conditional:
                if extra_sources is None:
                    raise ValueError("a conditional discriminator judges extra fakes beside their photos: give them")
                check_shape(extra_sources, " ".join(str(d) for d in extra_fakes.shape), "extra sources")
                extra_fakes = self._pair(extra_sources, extra_fakes)
        terms: dict[str, torch.Tensor] = {}
        values: dict[str, float] = {}
        if c.lowpass_l1 > 0:
            terms["lowpass_l1"] = lowpass_l1(output, target, c.lowpass)
        if c.ssim > 0:
            terms["ssim"] = (1 - ms_ssim((output + 1) / 2, (target + 1) / 2)).mean()
        if self.disc is not None:
            real, fake = self._pair(source, target), self._pair(source, output)
            batch, _, height, width = real.shape
            draw = AugmentDraw.sample(batch, height, width, self.generator) if c.augment else None
            extra_draw = None
            if extra_fakes is not None and c.augment:
                extra_draw = AugmentDraw.sample(extra_fakes.shape[0], height, width, self.generator)
            values["disc"] = self._discriminator_step(
                real, fake.detach(), draw, None if extra_fakes is None else (extra_fakes.detach(), extra_draw)
            )
            terms.update(self._generator_terms(real, fake, draw, (extra_fakes, extra_draw)))
        loss = sum((getattr(c, name) * value for name, value in terms.items()), torch.zeros((), device=output.device))
        values.update({name: float(value.detach()) for name, value in terms.items()})
        return loss, values

    def _pair(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([source, image], dim=1) if self.config.conditional else image

    def _augment(self, pair: torch.Tensor, draw: AugmentDraw | None) -> torch.Tensor:
        return pair if draw is None else diff_augment(pair, draw=draw)

    def _discriminator_step(
        self, real: torch.Tensor, fake: torch.Tensor, draw: AugmentDraw | None, extra=None
    ) -> float:
        assert self.disc is not None and self.optimizer is not None
        real_out = self.disc(self._augment(real, draw))
        fakes = [self.disc(self._augment(fake, draw))]
        if extra is not None:
            fakes.append(self.disc(self._augment(extra[0], extra[1])))
        real_loss = sum(F.relu(1 - r[-1]).mean() for r in real_out) / len(real_out)
        fake_loss = sum(F.relu(1 + f[-1]).mean() for outs in fakes for f in outs) / (len(real_out) * len(fakes))
        loss = real_loss + fake_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def _generator_terms(
        self, real: torch.Tensor, fake: torch.Tensor, draw: AugmentDraw | None, extra=(None, None)
    ) -> dict[str, torch.Tensor]:
        assert self.disc is not None
        c = self.config
        self.disc.requires_grad_(False)  # gradients flow through D to the student, not into D's weights
        try:
            fake_out = self.disc(self._augment(fake, draw))
            terms = {}
            if c.adversarial > 0:
                judged = [fake_out]
                if extra[0] is not None:
                    judged.append(self.disc(self._augment(extra[0], extra[1])))
                terms["adversarial"] = sum(-f[-1].mean() for outs in judged for f in outs) / (
                    len(fake_out) * len(judged)
                )
            if c.feature_matching > 0:
                with torch.no_grad():
                    real_out = self.disc(self._augment(real, draw))
                distances = [
                    (f - r).abs().mean()
                    for fake_scale, real_scale in zip(fake_out, real_out, strict=True)
                    for f, r in zip(fake_scale[:-1], real_scale[:-1], strict=True)
                ]
                terms["feature_matching"] = torch.stack(distances).mean()
        finally:
            self.disc.requires_grad_(True)
        return terms

    def state_dict(self) -> dict:
        state: dict = {"generator": self.generator.get_state()}
        if self.disc is not None and self.optimizer is not None:
            state |= {"disc": self.disc.state_dict(), "optimizer": self.optimizer.state_dict()}
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        if self.disc is not None and self.optimizer is not None:
            self.disc.load_state_dict(state["disc"])
            self.optimizer.load_state_dict(state["optimizer"])
