"""Small synthetic video clips made from a still photo, with a known per-frame transform and a tone.

Used by ``video.py`` (landmark jitter and flicker against the known camera path) and by the tests.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np


def camera_path(frames: int, size: tuple[int, int], still: tuple[int, int]) -> list[np.ndarray]:
    """``2 3`` transforms still → frame: a slow pan, a zoom in and a small rotation, in ``frames`` steps."""
    width, height = size
    matrices = []
    for i in range(frames):
        t = i / max(1, frames - 1)
        scale = (height / still[1]) * (1.0 + 0.25 * t)
        angle = 4.0 * np.sin(2 * np.pi * t)
        centre = (still[0] / 2 + 20 * t, still[1] / 2 - 10 * t)
        matrix = cv2.getRotationMatrix2D(centre, angle, scale)
        matrix[:, 2] += np.array([width / 2, height / 2]) - centre
        matrices.append(matrix)
    return matrices


def write_clip(
    path: Path,
    still: np.ndarray,
    frames: int = 12,
    size: tuple[int, int] = (320, 240),
    fps: int = 10,
    tone: bool = True,
    entering: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Write an H.264 clip of ``still`` under ``camera_path`` (and a 440 Hz AAC tone); return the matrices.

    ``entering``: a second face that slides in from the right over the second half of the clip.
    """
    import av

    matrices = camera_path(frames, size, (still.shape[1], still.shape[0]))
    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = container.add_stream("aac", rate=44100) if tone else None
        for i, matrix in enumerate(matrices):
            image = cv2.warpAffine(still, matrix, size, borderMode=cv2.BORDER_REFLECT_101)
            if entering is not None and i >= frames // 2:
                image = _slide_in(image, entering, (i - frames // 2) / max(1, frames - frames // 2 - 1))
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        if audio is not None:
            _write_tone(av, container, audio, frames / fps)
    return matrices


def _slide_in(image: np.ndarray, face: np.ndarray, t: float) -> np.ndarray:
    height, width = image.shape[:2]
    side = height // 2
    small = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA)
    x = int(width - t * side)
    out = image.copy()
    visible = min(side, width - x)
    out[height // 4 : height // 4 + side, x : x + visible] = small[:, :visible]
    return out


def _write_tone(av, container, stream, seconds: float) -> None:
    rate, chunk = 44100, 1024
    samples = np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate).astype(np.float32) * 0.2
    for start in range(0, len(samples), chunk):
        block = samples[start : start + chunk]
        frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
