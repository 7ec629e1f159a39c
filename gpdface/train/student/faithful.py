"""Terms that keep the person: on many varied real faces, the drawing keeps the photo's face where it is.

A student learns to draw from its exemplars (a few drawings, or a few hundred CUFS pairs: frontal, neutral,
no make-up). Shown the face bank as well — 1,744 LFW faces: smiles, open mouths, turned heads, glasses, every
skin tone — through two terms that ask nothing of the style, only of the face:

- ``landmarks``: the project's own RetinaFace (frozen; gradients reach the drawing) reads the drawing and
  the photo; at the anchors where it finds the photo's face, the drawing's five landmarks must be where
  the photo's are (mean distance over the eye distance) and its face must be found no less surely (the
  drop of log-probability). Zero for a drawing identical to its photo.
- ``structure``: the face's low-passed luminance layout, each image normalised to zero mean and unit
  spread over the face: dark where the photo is dark (mouth, brows, nostrils), light where it is light
  (teeth, highlights) — in the style's own tone range.

Photos are shown whole (the detector needs the whole face) after a wide random similarity (roll ±20°,
scale ±15 %, shift, mirror) and colour changes (gamma, saturation, white balance), so the student also sees
heads that lean and lighting it was never given. They are drawn with the student's batch statistics
frozen: the face bank's whole crops are not the anchors' windows, and normalising them apart was measured to
shift every drawing (``distill._draw_together``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ...face.align import FFHQ_TEMPLATE_512
from ...formats import LUMA
from ..data.pairs import AUGMENTATIONS, Augment, jitter_matrix, photometric

FACE_FOUND = 0.5  # anchors where the photo's face probability is above this carry the landmark term
STRUCTURE_POOL = 8  # the structure term's low-pass: 8× box filter (32×32 at a 256 px crop)
MISS_WEIGHT = 0.1  # the face-probability drop beside the landmark distance, inside the landmarks term


@dataclass(frozen=True)
class FaithfulConfig:
    """Weights of the two terms (0 switches one off), photos per step and their augmentation."""

    landmarks: float = 0.0
    structure: float = 0.0
    batch_size: int = 4
    augment: Augment = AUGMENTATIONS["wide"]
    white_balance: float = 0.1  # largest change of each colour channel's gain

    @property
    def active(self) -> bool:
        return self.landmarks > 0 or self.structure > 0


def face_mask(size: int, pool: int = 1) -> torch.Tensor:
    """A soft ellipse over the face of an FFHQ-aligned crop (brows to chin, cheek to cheek), ``1 1 s s``."""
    side = size // pool
    template = FFHQ_TEMPLATE_512 * (side / 512)
    centre = template[[0, 1, 3, 4]].mean(axis=0)
    eye = float(np.linalg.norm(template[1] - template[0]))
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32) + 0.5
    inside = ((xs - centre[0]) / (1.1 * eye)) ** 2 + ((ys - centre[1]) / (1.35 * eye)) ** 2
    return torch.from_numpy(np.clip(1.5 - inside, 0, 1)).view(1, 1, side, side)


def luminance(images: torch.Tensor) -> torch.Tensor:
    """``B 1 H W`` luminance in [0, 1] of ``B 3 H W`` images in [-1, 1]."""
    weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return ((images + 1) / 2 * weights).sum(1, keepdim=True)


def structure_distance(drawn: torch.Tensor, photos: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the ``mask`` of the distance between the normalised low-passed luminance of drawing and
    photo (per image: zero mean, unit spread over the mask)."""

    def normalised(images: torch.Tensor) -> torch.Tensor:
        low = F.avg_pool2d(luminance(images), STRUCTURE_POOL)
        weight = mask.sum()
        mean = (low * mask).sum((2, 3), keepdim=True) / weight
        spread = (((low - mean) ** 2 * mask).sum((2, 3), keepdim=True) / weight).clamp_min(1e-6).sqrt()
        return (low - mean) / spread

    return ((normalised(drawn) - normalised(photos)).abs() * mask).sum((1, 2, 3)).div(mask.sum()).mean()


def landmark_distance(
    drawn: torch.Tensor, photos: torch.Tensor, detector, eye_distance: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean landmark distance over ``eye_distance``, mean drop of the face log-probability) of the
    drawings against their photos, at the anchors where the photo's face is found (weighted by its
    probability). Both are zero when a drawing is its photo."""
    with torch.no_grad():
        found, where = detector.landmark_field(photos)
        weight = found * (found > FACE_FOUND)
        weight = weight / weight.sum(1, keepdim=True).clamp_min(1e-6)
    probability, points = detector.landmark_field(drawn)
    distance = ((points - where) ** 2).sum(-1).add(1e-8).sqrt().mean(-1) / eye_distance  # B A
    drop = F.relu(torch.log(found.clamp_min(1e-6)) - torch.log(probability.clamp_min(1e-6)))
    per_image = (weight * distance).sum(1), (weight * drop).sum(1)
    return per_image[0].mean(), per_image[1].mean()


class FaithfulTerms:
    """The face bank's photos, augmented, and the two terms on the student's drawings of them."""

    def __init__(self, photos: np.ndarray, config: FaithfulConfig, device: torch.device, seed: int) -> None:
        from ...face.detect import RetinaFaceDetector

        self.photos, self.config, self.device = photos, config, device
        self.size = photos.shape[1]
        self.rng = np.random.default_rng(seed + 7)
        self.detector = RetinaFaceDetector(device=device)
        self.mask = face_mask(self.size, STRUCTURE_POOL).to(device)
        self.eye_distance = float(np.linalg.norm(FFHQ_TEMPLATE_512[1] - FFHQ_TEMPLATE_512[0])) * self.size / 512

    def sample(self) -> torch.Tensor:
        """This step's photos: ``B 3 S S`` in [-1, 1] on the device, each under its own random similarity
        and colour change."""
        identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        chosen = self.rng.integers(0, len(self.photos), self.config.batch_size)
        batch = []
        for index in chosen:
            matrix = jitter_matrix(identity, self.size, self.config.augment, self.rng)
            crop = cv2.warpAffine(self.photos[index], matrix, (self.size, self.size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
            crop, _ = photometric(crop, crop, self.config.augment, self.rng)
            gains = 1 + self.rng.uniform(-self.config.white_balance, self.config.white_balance, 3)
            crop = np.clip(crop.astype(np.float32) * gains.astype(np.float32), 0, 255)
            batch.append(torch.from_numpy(crop).permute(2, 0, 1) / 127.5 - 1)
        return torch.stack(batch).to(self.device)

    def loss(self, photos: torch.Tensor, drawn: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        """(weighted sum, each term's value) for the student's ``drawn`` photos."""
        c = self.config
        total, values = torch.zeros((), device=self.device), {}
        if c.landmarks > 0:
            distance, drop = landmark_distance(drawn, photos, self.detector, self.eye_distance)
            term = distance + MISS_WEIGHT * drop
            total, values["landmarks"] = total + c.landmarks * term, float(term.detach())
        if c.structure > 0:
            term = structure_distance(drawn, photos, self.mask)
            total, values["structure"] = total + c.structure * term, float(term.detach())
        return total, values

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


@contextmanager
def frozen_batch_statistics(model: torch.nn.Module) -> Iterator[None]:
    """Batch norms use (and do not update) their running statistics inside: an extra forward pass of other
    images is normalised as the exported student will normalise it."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    modes = [m.training for m in norms]
    for norm in norms:
        norm.eval()
    try:
        yield
    finally:
        for norm, mode in zip(norms, modes, strict=True):
            norm.train(mode)
