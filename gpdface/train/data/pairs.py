"""Training data: exemplar pairs, their alignment to a template, and augmented batches.

A pair folder holds ``source/`` and ``target/`` (or CUFS's ``photos/`` and ``sketches/``) with files of
the same names. The target is assumed to share the source's geometry (as a drawn-over photo does), so
the face is detected on the source and the same transform aligns both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ...errors import InputError, NoFaceError
from ...face.align import estimate_alignment
from ...face.detect import Detector
from ...formats import IMAGE_SUFFIXES, LUMA
from ...imageio import read_image, to_tensor
from .landmarks import check_inside

_SOURCE_NAMES, _TARGET_NAMES = ("source", "photos"), ("target", "sketches")


@dataclass(frozen=True)
class PairFiles:
    name: str
    source: Path
    target: Path


def find_pairs(folder: str | Path) -> list[PairFiles]:
    """The pairs in ``folder`` (``source/`` + ``target/``, or ``photos/`` + ``sketches/``), sorted by name.

    Raises:
        InputError: the sub-folders are missing, or a file has no partner.
    """
    folder = Path(folder)
    source_dir = next((folder / n for n in _SOURCE_NAMES if (folder / n).is_dir()), None)
    target_dir = next((folder / n for n in _TARGET_NAMES if (folder / n).is_dir()), None)
    if source_dir is None or target_dir is None:
        raise InputError(f"{folder}: a pairs folder needs source/ and target/ sub-folders with files of the same names")

    def images(d: Path) -> dict[str, Path]:
        return {p.stem: p for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}

    sources, targets = images(source_dir), images(target_dir)
    unmatched = sorted(set(sources) ^ set(targets))
    if unmatched:
        raise InputError(f"{folder}: no partner for {', '.join(unmatched[:5])}{' …' if len(unmatched) > 5 else ''}")
    if not sources:
        raise InputError(f"{folder}: no images in {source_dir.name}/")
    return [PairFiles(name, sources[name], targets[name]) for name in sorted(sources)]


@dataclass
class AlignedPairs:
    """Pairs ready for training: original images and the photo → crop transform of each.

    Attributes:
        names: pair names.
        sources: ``H W 3`` uint8 source images.
        targets: ``H W 3`` uint8 target images, same size as their source.
        matrices: ``2 3`` photo → crop affine transforms at ``crop_size``.
        crop_size: side of the aligned crops.
    """

    names: list[str]
    sources: list[np.ndarray]
    targets: list[np.ndarray]
    matrices: list[np.ndarray]
    crop_size: int

    def __len__(self) -> int:
        return len(self.names)

    def crops(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The aligned (source, target) crops of one pair, without augmentation."""
        return warp_pair(self.sources[index], self.targets[index], self.matrices[index], self.crop_size)


def warp_pair(source: np.ndarray, target: np.ndarray, matrix: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    def warp(image: np.ndarray) -> np.ndarray:
        return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)

    return warp(source), warp(target)


def align_pairs(
    pairs: list[PairFiles], detector: Detector | None, crop_size: int, template: np.ndarray
) -> AlignedPairs:
    """Read every pair and align it by the 5 landmarks detected on the source.

    Args:
        pairs: the files.
        detector: finds the landmarks; None when the images are already aligned crops.
        crop_size: side of the aligned crops.
        template: ``5 2`` landmark positions in crop pixels.

    Raises:
        InputError: an image cannot be read.
        NoFaceError: no face on a source (the message names the file and suggests ``--aligned``).
    """
    names, sources, targets, matrices = [], [], [], []
    for pair in pairs:
        source, target = read_image(pair.source).rgb, read_image(pair.target).rgb
        if target.shape != source.shape:
            target = cv2.resize(target, source.shape[1::-1], interpolation=cv2.INTER_AREA)
        if detector is None:
            height, width = source.shape[:2]
            matrix = np.array([[crop_size / width, 0, 0], [0, crop_size / height, 0]], np.float64)
        else:
            faces = detector.detect(source)
            if not faces:
                raise NoFaceError(f"no face found in {pair.source}; if the pairs are aligned crops, pass --aligned")
            matrix = estimate_alignment(faces[0].landmarks, template)
        names.append(pair.name)
        sources.append(source)
        targets.append(target)
        matrices.append(matrix)
    return AlignedPairs(names, sources, targets, matrices, crop_size)


@dataclass(frozen=True)
class Augment:
    """Random geometry shared by source and target, a tone change shared by both, and colour jitter on the
    source only.

    The shared gamma teaches tone: a darker photo (darker skin, a dim room) must give a darker drawing.
    Brightness and contrast jitter of the source alone would teach the opposite — the same drawing whatever
    the photo's tone, which renders dark skin near-white — so it is kept small. Saturation and grey jitter
    widen the range of colour photos the student accepts (CUFS photos are studio shots; users' are not).

    Attributes:
        scale: largest log-scale change.
        rotate_deg: largest rotation.
        shift: largest shift, as a share of the crop side.
        flip: mirror half of the samples.
        gamma: largest |log γ| of the tone curve x ↦ x^γ applied to source and target alike.
        brightness: largest brightness change of the source alone.
        contrast: largest contrast change of the source alone.
        saturation: largest saturation change of the source.
        grey_probability: share of sources turned grey.
    """

    scale: float = 0.05
    rotate_deg: float = 5.0
    shift: float = 0.03
    flip: bool = True
    gamma: float = 0.8  # γ in [0.45, 2.2]: reaches the skin tones of dark-skinned faces (CUFS has few)
    brightness: float = 0.1
    contrast: float = 0.1
    saturation: float = 0.4
    grey_probability: float = 0.1


# A drawing is grey when its channels differ by at most this (of 255) at the 99th percentile of its pixels.
# Scanned pencil sketches carry a faint paper tint and chroma noise: CUFS's AR sketches reach 20 (median 8),
# and at the earlier 4 any style trained on them kept colour fringes leaked from the photos (teal
# backgrounds, lavender highlights). Colour exemplars are far above it: the Open Peeps avatars 99 to 196.
GREY_SPREAD = 24


def grey_flags(images: Sequence[np.ndarray]) -> np.ndarray:
    """Per ``H W 3`` uint8 image: whether it is grey (a scan's paper tint and JPEG's chroma noise allowed).
    Used for the exemplars (one output filter) and the projection's targets (compared in grey)."""
    return np.array([np.percentile(np.ptp(image, axis=-1), 99) <= GREY_SPREAD for image in images], dtype=bool)


# The recipe's ``augment`` choices: the exemplars' jitter so far, and a wide one for heads that lean, faces
# nearer or further, and lighting the exemplars never had (the faithful terms' photos always get it).
AUGMENTATIONS = {
    "standard": Augment(),
    "wide": Augment(
        scale=0.15,
        rotate_deg=20.0,
        shift=0.06,
        flip=True,
        gamma=0.8,
        brightness=0.15,
        contrast=0.15,
        saturation=0.5,
        grey_probability=0.1,
    ),
}


def jitter_matrix(matrix: np.ndarray, size: int, aug: Augment, rng: np.random.Generator) -> np.ndarray:
    """Compose a random similarity (about the crop centre) after ``matrix``."""
    angle = np.deg2rad(rng.uniform(-aug.rotate_deg, aug.rotate_deg))
    scale = np.exp(rng.uniform(-aug.scale, aug.scale))
    shift = rng.uniform(-aug.shift, aug.shift, size=2) * size
    c = (size - 1) / 2
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) * scale
    extra = np.c_[rot, np.array([c, c]) - rot @ np.array([c, c]) + shift]
    if aug.flip and rng.random() < 0.5:
        extra = np.array([[-1, 0, size - 1], [0, 1, 0]], np.float64) @ np.r_[extra, [[0, 0, 1]]]
    return extra @ np.r_[matrix, [[0, 0, 1]]]


def photometric(
    source: np.ndarray, target: np.ndarray, aug: Augment, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The tone curve on both images, then colour jitter on the source (uint8 in, uint8 out)."""
    gamma = float(np.exp(rng.uniform(-aug.gamma, aug.gamma)))
    lut = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    image, target = lut[source].astype(np.float32), lut[target]
    grey = image @ np.array(LUMA, np.float32)
    if rng.random() < aug.grey_probability:
        image = np.repeat(grey[..., None], 3, axis=2)
    else:
        image = grey[..., None] + (image - grey[..., None]) * rng.uniform(1 - aug.saturation, 1 + aug.saturation)
    mean = image.mean()
    image = (image - mean) * rng.uniform(1 - aug.contrast, 1 + aug.contrast) + mean
    image = image * rng.uniform(1 - aug.brightness, 1 + aug.brightness)
    return np.clip(image, 0, 255).astype(np.uint8), target


class PairBatches:
    """Endless random batches ``(x, y)`` of ``B 3 w w`` tensors in [-1, 1] from aligned pairs.

    With ``window`` smaller than the crop, each sample is a random ``window``-sided square of its
    (jittered) aligned crop: the student is fully convolutional, so it learns strokes from windows at a
    fraction of the cost of whole crops.
    """

    def __init__(
        self, pairs: AlignedPairs, batch_size: int, aug: Augment | None, seed: int, window: int | None = None
    ) -> None:
        self.pairs, self.batch_size, self.aug = pairs, batch_size, aug
        self.window = min(window or pairs.crop_size, pairs.crop_size)
        self.rng = np.random.default_rng(seed)

    def sample(self) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        size, window = self.pairs.crop_size, self.window
        for index in self.rng.integers(0, len(self.pairs), self.batch_size):
            matrix = self.pairs.matrices[index]
            if self.aug is not None:
                matrix = jitter_matrix(matrix, size, self.aug, self.rng)
            if window < size:  # move the window's corner to the origin: warp only the window
                corner = self.rng.integers(0, size - window + 1, size=2)
                matrix = np.c_[matrix[:, :2], matrix[:, 2] - corner]
            x, y = warp_pair(self.pairs.sources[index], self.pairs.targets[index], matrix, window)
            if self.aug is not None:
                x, y = photometric(x, y, self.aug, self.rng)
            xs.append(to_tensor(x))
            ys.append(to_tensor(y))
        return torch.stack(xs), torch.stack(ys)


def find_shots(folder: str | Path, limit: tuple[int, int] = (1, 10)) -> list[Path]:
    """The exemplar images of a ``--shots`` folder, sorted; 1–10 of them.

    Raises:
        InputError: none, or more than GPD is designed for.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    shots = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    low, high = limit
    if not low <= len(shots) <= high:
        raise InputError(
            f"{folder} holds {len(shots)} image(s); few-shot adaptation takes {low}–{high} exemplars "
            "(fewer cannot define a style; more should be given as --pairs to train a student directly)"
        )
    return shots


def align_images(
    paths: list[Path],
    detector: Detector | None,
    crop_size: int,
    template: np.ndarray,
    landmarks: Mapping[Path, np.ndarray] | None = None,
) -> np.ndarray:
    """Read and align images to ``template`` at ``crop_size``: ``N S S 3`` uint8.

    An image with ``landmarks`` given (five points, the detector's order) is aligned by them; the others by
    the detector's first face, or resized whole when ``detector`` is None (aligned crops).

    Raises:
        InputError: an image cannot be read, or its given landmarks lie outside it (named).
        NoFaceError: images with neither a detected face nor given landmarks (all of them named).
    """
    landmarks = landmarks or {}
    crops, faceless = [], []
    for path in paths:
        image = read_image(path).rgb
        points = landmarks.get(path)
        if points is not None:
            check_inside(points, image.shape[1], image.shape[0], path.name)
        elif detector is None:
            crops.append(cv2.resize(image, (crop_size, crop_size), interpolation=cv2.INTER_AREA))
            continue
        else:
            faces = detector.detect(image)
            if not faces:
                faceless.append(path.name)
                continue
            points = faces[0].landmarks
        try:
            matrix = estimate_alignment(points, template)
        except InputError as error:
            raise InputError(f"{path.name}: {error}") from None
        interp = cv2.INTER_AREA if abs(np.linalg.det(matrix[:, :2])) < 1 else cv2.INTER_LINEAR
        crops.append(
            cv2.warpAffine(image, matrix, (crop_size, crop_size), flags=interp, borderMode=cv2.BORDER_REFLECT_101)
        )
    if faceless:
        raise NoFaceError(
            f"no face found in {len(faceless)} of {len(paths)} exemplars ({', '.join(faceless)}) and no landmarks "
            "given for them: give five points per image (--landmarks FILE), or --aligned for aligned crops"
        )
    return np.stack(crops)
