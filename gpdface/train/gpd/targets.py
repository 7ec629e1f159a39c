"""Teacher targets for real photos: two-scale GPD's training data.

Each photo of the face bank, in the style's frame at full resolution (the student's input), gets:
- a latent w = E(x↓), from the encoder trained on G_s's own samples (optionally refined by a few
  projection steps), where x↓ is the photo in the teacher's frame and resolution;
- a target G_t(w): what the adapted teacher draws for that face, brought back into the style's frame at
  the teacher's resolution — it says where tones and features go, not how strokes look;
- a confidence c = exp(−e² / 2σ²), e the reconstruction error of G_s(w) against x↓ and σ the median e:
  a photo the source generator cannot reproduce gets a target that says little about it;
- optionally (``tone_transfer`` > 0) what G_s(w) missed of the photo, carried into the target: the grey
  difference between x↓ and G_s(w), blurred by ``transfer_blur`` and times ``tone_transfer``, added to
  G_t(w). At 1 the target is the photo plus the teacher's edit, G_t(w) − G_s(w). The 64 px prior's encoder
  reconstructs nearly every face at the same light tone, and as the same blurred, alike face, so without it
  dark-skinned faces get targets as light as everyone's (docs/few-shot.md: a tone slope of 0.14)
  and no target shows the photo's own eyes, mouth or hairline. ``TRANSFER_BLUR``, σ 0.005 of the teacher's
  resolution, keeps features one teacher pixel wide; the first version blurred by 0.05 (tone only), which
  scored lower with ``--shots`` on every seed tried (docs/making-a-style.md);
- its nearest anchor (by latent distance), for the relative term.

``build_photo_targets`` is the one function that ``gpdface finetune`` and ``benchmarks/quality.py`` call.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np
import torch

from ...formats import LUMA
from ...imageio import to_tensor
from ..teachers.base import Teacher
from .encoder import LatentEncoder, encode
from .frames import FrameMap

# σ of the blur on what G_s(w) missed, a share of the teacher's resolution: 0.32 px at 64 px, i.e. every
# feature the teacher's resolution can hold is carried (see the module's docstring).
TRANSFER_BLUR = 0.005


@dataclass
class PhotoTargets:
    """Real photos and what the teacher says about each.

    Attributes:
        photos: ``N 3 S S`` uint8, the style's frame at its crop size.
        targets: ``N 3 L L`` uint8 G_t(w), the style's frame at the teacher's resolution L.
        confidence: ``N`` c in (0, 1].
        nearest: ``N`` index of each photo's nearest anchor.
        latents: ``N *latent_shape`` the photos' codes.
        errors: ``N`` reconstruction error of G_s(w) against the photo.
        anchor_targets: ``K 3 L L`` float G_t(w_a) of each anchor in the style's frame, in [-1, 1].
    """

    photos: torch.Tensor
    targets: torch.Tensor
    confidence: torch.Tensor
    nearest: torch.Tensor
    latents: torch.Tensor
    errors: torch.Tensor
    anchor_targets: torch.Tensor

    def __len__(self) -> int:
        return self.photos.shape[0]

    @property
    def factor(self) -> int:
        """Style pixels per teacher pixel."""
        return self.photos.shape[-1] // self.targets.shape[-1]

    def uniform(self) -> PhotoTargets:
        """The same data with c ≡ 1 (the ablation without the confidence)."""
        return replace(self, confidence=torch.ones_like(self.confidence))


def confidence_from_errors(errors: torch.Tensor) -> torch.Tensor:
    """c = exp(−e² / 2σ²) with σ the median error: about 0.6 for a typical photo."""
    sigma = errors.median().clamp_min(1e-8)
    return torch.exp(-(errors**2) / (2 * sigma**2))


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    """``B 3 R R`` in [-1, 1] → uint8 on the CPU."""
    return images.float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()


@torch.no_grad()
def teacher_images_in_style_frame(teacher: Teacher, latents: torch.Tensor, frame: FrameMap, batch: int = 128):
    """G(latents) in the style's frame at the teacher's resolution: ``N 3 L L`` uint8."""
    images = []
    for part in latents.split(batch):
        drawn = _to_uint8(teacher.synthesis(part.to(teacher.device))).permute(0, 2, 3, 1).numpy()
        images.append(torch.from_numpy(frame.to_style(drawn, frame.teacher_size)).permute(0, 3, 1, 2))
    return torch.cat(images)


def build_photo_targets(
    source: Teacher,
    adapted: Teacher,
    encoder: LatentEncoder,
    photos: np.ndarray,
    anchor_latents: torch.Tensor,
    frame: FrameMap,
    refine_steps: int = 0,
    tone_transfer: float = 0.0,
    transfer_blur: float = TRANSFER_BLUR,
) -> PhotoTargets:
    """Encode every photo, render its teacher target, and weigh it.

    Args:
        source: G_s.
        adapted: G_t.
        encoder: trained on G_s's samples.
        photos: ``N S S 3`` uint8 photos in the style's frame.
        anchor_latents: ``K *latent_shape`` the anchors' codes.
        frame: the style frame ↔ teacher frame map.
        refine_steps: projection steps refining each encoded code (0: the encoder's guess).
        tone_transfer: share of what G_s(w) missed of the photo that is added to each target (0: none).
        transfer_blur: σ of the blur on what G_s(w) missed, as a share of the teacher's resolution.
    """
    low = torch.stack([to_tensor(x) for x in frame.to_teacher(photos)])  # N 3 R R, the teacher's frame
    encoded = encode(source, encoder, low, refine_steps=refine_steps)
    distance = torch.cdist(encoded.latents.flatten(1).float(), anchor_latents.flatten(1).float().cpu())
    targets = teacher_images_in_style_frame(adapted, encoded.latents, frame)
    if tone_transfer > 0:
        reconstructions = teacher_images_in_style_frame(source, encoded.latents, frame)
        missed = missed_by_reconstruction(photos, reconstructions, transfer_blur)
        targets = (targets.float() + tone_transfer * missed).round().clamp(0, 255).to(torch.uint8)
    return PhotoTargets(
        photos=torch.from_numpy(np.ascontiguousarray(photos)).permute(0, 3, 1, 2).contiguous(),
        targets=targets,
        confidence=confidence_from_errors(encoded.errors),
        nearest=distance.argmin(dim=1),
        latents=encoded.latents,
        errors=encoded.errors,
        anchor_targets=teacher_images_in_style_frame(adapted, anchor_latents, frame).float().div(127.5).sub(1),
    )


def missed_by_reconstruction(photos: np.ndarray, reconstructions: torch.Tensor, blur: float) -> torch.Tensor:
    """What a reconstruction missed: the photo's grey minus the reconstruction's, blurred.

    Args:
        photos: ``N S S 3`` uint8 in the style's frame.
        reconstructions: ``N 3 L L`` uint8 G_s(w), the style's frame at the teacher's resolution L.
        blur: σ of the blur as a share of L: 0.05 keeps only the tone, 0.005 (``TRANSFER_BLUR``) the features too.

    Returns:
        ``N 1 L L`` float grey levels (0–255 scale), negative where the photo is darker.
    """
    size = reconstructions.shape[-1]
    small = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in photos])
    luma = np.array(LUMA, np.float32)
    photo_grey = small.astype(np.float32) @ luma
    made_grey = reconstructions.permute(0, 2, 3, 1).numpy().astype(np.float32) @ luma
    sigma = blur * size
    missed = [cv2.GaussianBlur(p - m, (0, 0), sigma) for p, m in zip(photo_grey, made_grey, strict=True)]
    return torch.from_numpy(np.stack(missed))[:, None]
