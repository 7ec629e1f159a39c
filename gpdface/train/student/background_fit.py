"""Fit a style's ``pencil`` background (``gpdface.background``) to its training sketches.

The tone curve is found by quantile matching: the curve that gives the pencil drawings of the training
photos, pooled, the grey-level distribution of the artists' sketches, pooled — so that the paper, the
shading and the darkest strokes around a face have the tones the student draws inside it.

The blur scale and the shading exponent are a look, not a fit: scored by FSIM against the sketches, the
most photo-like setting wins (a small blur, strong shading: FSIM 0.715 on 96 CUFS training pairs, where
the grey photo scores 0.706), and it reads as a contrasty grey photo, not as a drawing. The defaults
were chosen by looking at real photos; the report still gives the fitted drawing's scores.
"""

from __future__ import annotations

import numpy as np

from ...background import Background, apply_tone, grey, pencil_strength
from ..data.pairs import AlignedPairs
from ..evaluation.scores import mean_grey_scores

QUANTILES = np.linspace(0.0, 1.0, 257)
BLUR, SHADING = 0.15, 0.35  # chosen by eye (see above)


def tone_curve(drawn: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
    """The monotone 256-entry curve that maps the distribution of ``drawn`` ([0, 1]) onto ``target``'s."""
    source_q = np.quantile(drawn, QUANTILES)
    target_q = np.quantile(target, QUANTILES) * 255.0
    source_q, first = np.unique(source_q, return_index=True)  # np.interp needs increasing abscissae
    curve = np.interp(np.arange(256) / 255.0, source_q, target_q[first])
    return tuple(int(v) for v in np.clip(np.rint(curve), 0, 255))


def fit_pencil(
    pairs: AlignedPairs,
    eye_distance_in_crop: float,
    blur: float = BLUR,
    shading: float = SHADING,
    max_pairs: int = 48,
) -> tuple[Background, dict]:
    """A ``pencil`` background whose tone curve is fitted to ``pairs``' sketches.

    Args:
        pairs: photo/sketch pairs in their own frames, with the photo → crop alignment of each.
        eye_distance_in_crop: the template's eye distance in crop pixels (turns each pair's alignment
            scale into its eye distance in photo pixels).
        blur: σ of the drawing's blurs, as a share of the eye distance.
        shading: exponent of the drawing's shading.
        max_pairs: at most this many pairs, evenly spaced, are used.

    Returns:
        The background, and a report with the SSIM/FSIM of its drawings and of the grey photos against the
        sketches.
    """
    picks = np.linspace(0, len(pairs) - 1, min(max_pairs, len(pairs))).round().astype(int)
    photos = [pairs.sources[i] for i in picks]
    sketches = [pairs.targets[i] for i in picks]
    scales = [abs(np.linalg.det(pairs.matrices[i][:, :2])) ** 0.5 for i in picks]  # photo → crop
    strengths = [
        pencil_strength(grey(photo), max(0.5, blur * eye_distance_in_crop / scale), shading)
        for photo, scale in zip(photos, scales, strict=True)
    ]
    target = np.concatenate([grey(s).ravel() for s in sketches])
    tone = tone_curve(np.concatenate([s.ravel() for s in strengths]), target)
    drawings = [np.repeat(apply_tone(s, tone)[..., None], 3, axis=2) for s in strengths]
    report = {
        "pairs": len(picks),
        "blur": blur,
        "shading": shading,
        "pencil": mean_grey_scores(drawings, sketches),
        "grey_photo": mean_grey_scores(photos, sketches),
    }
    return Background("pencil", blur=blur, shading=shading, tone=tone), report
