"""Evaluation with the face-sketch protocol: the result is mapped back to the photo's own frame, both
images are turned grey, and SSIM (Gaussian window, σ 1.5, population covariance) and FSIM (Zhang et al.
2011, through the ``piq`` package, which needs no downloaded weights) are averaged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ...errors import ShapeError
from ...formats import LUMA
from ...imageio import to_tensor, to_uint8
from ...shapes import check_shape
from ..data.pairs import AlignedPairs, warp_pair
from ..student.losses import ssim
from .identity import IdentityScorer


def _grey(image: np.ndarray) -> torch.Tensor:
    g = image.astype(np.float64) @ np.array(LUMA)
    return torch.from_numpy(g)[None, None]


def grey_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two ``H W 3`` uint8 images after conversion to grey, on the 0–255 range."""
    return float(ssim(_grey(a), _grey(b), data_range=255.0)[0])


def grey_fsim(a: np.ndarray, b: np.ndarray) -> float | None:
    """FSIM of two ``H W 3`` uint8 images in grey, or None when ``piq`` is not installed."""
    try:
        import piq
    except ImportError:
        return None
    return float(piq.fsim(_grey(a).float(), _grey(b).float(), data_range=255.0, chromatic=False))


@torch.inference_mode()
def stylize_in_frame(model: torch.nn.Module, pairs: AlignedPairs, device: torch.device, batch_size: int = 8):
    """For each pair, the student's output warped back into the source photo's frame (``H W 3`` uint8).

    Outside the crop's footprint there is no output: those pixels keep the source photo, in grey (what the
    floor scores), so every method is judged on what it drew and none gains or loses by smeared borders.
    """
    model.eval()
    outputs = []
    for start in range(0, len(pairs), batch_size):
        indices = range(start, min(start + batch_size, len(pairs)))
        crops = torch.stack([to_tensor(pairs.crops(i)[0]) for i in indices]).to(device)
        for i, stylized in zip(indices, to_uint8(model(crops).float()), strict=True):
            outputs.append(_paste_in_frame(stylized, pairs.sources[i], pairs.matrices[i]))
    return outputs


def sketch_through_frame(pairs: AlignedPairs, crop_size: int | None = None) -> list[np.ndarray]:
    """Each target itself, warped into its aligned crop and back into the photo's frame (``H W 3`` uint8).

    The best any student working in this frame can score: what the round trip through a ``crop_size``
    crop loses (detail finer than the crop's pixels, everything outside it) no student can draw back.

    Args:
        pairs: the aligned pairs.
        crop_size: side of the crop; ``pairs.crop_size`` when None (the same alignment, rescaled).
    """
    size = crop_size or pairs.crop_size
    scale = size / pairs.crop_size
    outputs = []
    for source, target, matrix in zip(pairs.sources, pairs.targets, pairs.matrices, strict=True):
        scaled = matrix * scale
        _, crop = warp_pair(source, target, scaled, size)  # exactly the crop a student is trained on
        outputs.append(_paste_in_frame(crop, source, scaled))
    return outputs


def _paste_in_frame(crop: np.ndarray, photo: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    height, width = photo.shape[:2]
    inverse = cv2.invertAffineTransform(matrix)
    warped = cv2.warpAffine(crop, inverse, (width, height), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones(crop.shape[:2], np.float32), inverse, (width, height), flags=cv2.INTER_LINEAR)
    grey = np.repeat((photo.astype(np.float32) @ np.array(LUMA, np.float32))[..., None], 3, axis=2)
    blended = warped * inside[..., None] + grey * (1 - inside[..., None])
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def face_region(size: int) -> tuple[slice, slice]:
    """Rows and columns of an aligned ``size`` crop that hold skin (cheeks, nose, mouth) in every template."""
    return slice(round(0.39 * size), round(0.78 * size)), slice(round(0.31 * size), round(0.69 * size))


@torch.inference_mode()
def tone_response(model: torch.nn.Module, pairs: AlignedPairs, device: torch.device, gamma: float = 2.0) -> float:
    """How much the drawing of a face darkens when its photo does: the mean grey change over the face's
    central region (cheeks, nose, mouth) of the drawing, divided by that of the photo, when each aligned
    photo goes through the tone curve x ↦ x^gamma.

    About 0 for a style that draws every skin tone alike (dark skin comes out as light as light skin);
    about 1 for one that carries the photo's tone into the drawing.
    """
    model.eval()
    region = face_region(pairs.crop_size)
    curve = np.clip(np.rint(255.0 * (np.arange(256) / 255.0) ** gamma), 0, 255).astype(np.uint8)
    photo_change, drawing_change = [], []
    for index in range(len(pairs)):
        crop = pairs.crops(index)[0]
        batch = torch.stack([to_tensor(crop), to_tensor(curve[crop])]).to(device)
        drawn = to_uint8(model(batch).float())
        photo_change.append(float(crop[region].mean()) - float(curve[crop][region].mean()))
        drawing_change.append(float(drawn[0][region].mean()) - float(drawn[1][region].mean()))
    return float(np.mean(drawing_change) / max(np.mean(photo_change), 1e-6))


def grey_scores(
    images: list[np.ndarray], references: list[np.ndarray], batch: int = 4, device: torch.device | str = "cpu"
) -> dict[str, list[float]]:
    """Per-pair SSIM and (with ``piq``) FSIM, computed in small batches of same-sized images: the same values
    as ``grey_ssim``/``grey_fsim`` one by one, with fewer calls. On a CUDA ``device`` the batches are scored
    there (FSIM's filters are most of an evaluation's time on a CPU); the values agree to float rounding."""
    try:
        import piq
    except ImportError:
        piq = None
    scores: dict[str, list[float]] = {"ssim": [0.0] * len(images)}
    if piq is not None:
        scores["fsim"] = [0.0] * len(images)
    by_shape: dict[tuple, list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    for indices in by_shape.values():
        for start in range(0, len(indices), batch):
            part = indices[start : start + batch]
            a = torch.cat([_grey(images[i]) for i in part]).to(device)
            b = torch.cat([_grey(references[i]) for i in part]).to(device)
            values = {"ssim": ssim(a, b, data_range=255.0)}
            if piq is not None:
                values["fsim"] = piq.fsim(a.float(), b.float(), data_range=255.0, chromatic=False, reduction="none")
            for metric, per_image in values.items():
                for i, value in zip(part, per_image.tolist(), strict=True):
                    scores[metric][i] = float(value)
    return scores


def mean_grey_scores(
    images: list[np.ndarray], references: list[np.ndarray], device: torch.device | str = "cpu"
) -> dict[str, float]:
    """Mean SSIM and (with ``piq``) FSIM of ``grey_scores``."""
    batch = 32 if torch.device(device).type == "cuda" else 4
    scored = grey_scores(images, references, batch=batch, device=device)
    return {metric: float(np.mean(values)) for metric, values in scored.items()}


def evaluate_pairs(
    model: torch.nn.Module,
    pairs: AlignedPairs,
    device: torch.device,
    with_floor: bool = True,
    identity: IdentityScorer | None = None,
) -> dict[str, float]:
    """Mean SSIM and FSIM (FSIM needs ``piq``) of the student against the targets, and with ``with_floor``
    of the grey source photo (the floor).

    With an ``identity`` scorer, also ``rank1``: sketch → photo recognition rank-1 of the student's
    drawings, and with ``with_floor`` ``rank1_artist``, the same for the artists' own sketches.
    """
    report: dict[str, float] = {"pairs": len(pairs)}
    drawn = stylize_in_frame(model, pairs, device)
    report |= mean_grey_scores(drawn, pairs.targets, device)
    if with_floor:
        report |= {f"{m}_photo": v for m, v in mean_grey_scores(pairs.sources, pairs.targets, device).items()}
    if identity is not None:
        gallery = identity.descriptors(pairs)
        report["rank1"] = identity.rank1(pairs, drawn, gallery).rank1
        if with_floor:
            report["rank1_artist"] = identity.rank1(pairs, pairs.targets, gallery).rank1
    return report


@dataclass(frozen=True)
class ToneAcrossFaces:
    """How drawings follow the tone of many people's faces: the median grey (0–255) of each face region — the
    skin between the strokes, which a mean would mix with the strokes' density.

    Attributes:
        faces: how many faces.
        slope: least-squares change of the drawing's tone per unit of the photo's, over all faces; about 0
            when every face is drawn alike, 1 when the drawing is as dark as the photo.
        darkest: (photo, drawing) mean tone of the tenth of the faces with the darkest photos.
        lightest: the same for the tenth with the lightest photos.
    """

    faces: int
    slope: float
    darkest: tuple[float, float]
    lightest: tuple[float, float]


def skin_tone(crop: np.ndarray) -> float:
    """Median grey (0–255) of an aligned ``S S 3`` crop's face region."""
    return float(np.median(crop[face_region(crop.shape[0])].astype(np.float64) @ np.array(LUMA)))


def tone_spread(photos: Sequence[np.ndarray], drawings: Sequence[np.ndarray]) -> ToneAcrossFaces:
    """``ToneAcrossFaces`` of aligned photos and their drawings (a style's, or an artist's)."""
    if len(photos) != len(drawings) or len(photos) < 10:
        raise ShapeError(f"need at least 10 photos with one drawing each, got {len(photos)} and {len(drawings)}")
    photo = np.array([skin_tone(c) for c in photos])
    drawing = np.array([skin_tone(c) for c in drawings])
    order = np.argsort(photo, kind="stable")
    tenth = max(len(order) // 10, 1)
    dark, light = order[:tenth], order[-tenth:]
    return ToneAcrossFaces(
        faces=len(photo),
        slope=float(np.polyfit(photo, drawing, 1)[0]),
        darkest=(float(photo[dark].mean()), float(drawing[dark].mean())),
        lightest=(float(photo[light].mean()), float(drawing[light].mean())),
    )


@torch.inference_mode()
def tone_across_faces(
    model: torch.nn.Module, crops: np.ndarray, device: torch.device, batch_size: int = 8
) -> ToneAcrossFaces:
    """Draw ``N S S 3`` aligned photos of different people and compare the skin tones of photos and drawings.

    ``tone_response`` darkens one studio photo with a tone curve, which is not what a dark-skinned face in
    daylight looks like to a student (hue, highlights, contrast); this measures the spread of real faces:
    a style that draws dark skin as light as light skin has a slope near 0 and a darkest tenth drawn as
    light as the lightest.
    """
    if check_shape(crops, "N S S 3", "aligned crops")["N"] < 10:
        raise ShapeError(f"aligned crops: need at least 10 faces to compare tones, got {len(crops)}")
    model.eval()
    drawings: list[np.ndarray] = []
    for start in range(0, len(crops), batch_size):
        batch = torch.stack([to_tensor(c) for c in crops[start : start + batch_size]]).to(device)
        drawings += list(to_uint8(model(batch).float()))
    return tone_spread(list(crops), drawings)
