"""Faces followed across video frames, with landmarks smoothed so the alignment does not jitter.

Each frame's detections are matched to the faces already followed (box overlap first, landmark distance
as the tie-break), so a face keeps its identity; its five landmarks then go through a One-Euro filter
(Casiez, Roussel and Vogel, CHI 2012): a low-pass filter whose cut-off rises with the speed of the
motion — steady when the face is still (no jitter), quick when it moves (little lag). Speeds are measured
in face sizes per second, so the same settings suit a small face and a close-up. A face missed for a few
frames keeps its last landmarks (no flicker when the detector blinks); a scene cut starts every face anew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .face.detect import DetectedFace


@dataclass(frozen=True)
class SmoothingConfig:
    """One-Euro filter settings and track bookkeeping.

    Attributes:
        min_cutoff: cut-off frequency (Hz) when the face is still; lower is steadier.
        beta: how fast the cut-off rises with speed (per face size per second).
        derivative_cutoff: cut-off (Hz) of the speed estimate itself.
        max_missed: frames a face may go undetected before it is dropped (its last landmarks are kept).
        min_overlap: box intersection-over-union for a detection to continue a face …
        max_shift: … or, for a fast-moving face, its landmarks within this many face sizes of the face's.
    """

    # Chosen on benchmarks/video.py's synthetic clip (a sweep of 0.5–4 Hz × 0.5–15): frame-to-frame jitter
    # −35 % for +20 % lag error; lower cut-offs steady more and lag more.
    min_cutoff: float = 2.0
    beta: float = 5.0
    derivative_cutoff: float = 1.0
    max_missed: int = 3
    min_overlap: float = 0.3
    max_shift: float = 0.5


class OneEuroFilter:
    """The One-Euro filter on a vector of values, in units of ``scale`` (e.g. the face size in pixels)."""

    def __init__(self, config: SmoothingConfig) -> None:
        self.config = config
        self.value: np.ndarray | None = None
        self.speed: np.ndarray | None = None
        self.time = 0.0

    def __call__(self, value: np.ndarray, time: float, scale: float) -> np.ndarray:
        value = np.asarray(value, np.float64)
        if self.value is None or time <= self.time:
            self.value, self.speed, self.time = value, np.zeros_like(value), time
            return value
        step, c = time - self.time, self.config
        raw_speed = (value - self.value) / step / max(scale, 1e-6)
        self.speed = _blend(self.speed, raw_speed, _alpha(c.derivative_cutoff, step))
        cutoff = c.min_cutoff + c.beta * np.abs(self.speed)
        self.value = _blend(self.value, value, _alpha(cutoff, step))
        self.time = time
        return self.value


def _alpha(cutoff: float | np.ndarray, step: float) -> float | np.ndarray:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / step)


def _blend(previous: np.ndarray, current: np.ndarray, alpha: float | np.ndarray) -> np.ndarray:
    return previous + alpha * (current - previous)


@dataclass
class Track:
    """One face followed through the video."""

    identity: int
    face: DetectedFace  # the smoothed landmarks and the last detected box
    filter: OneEuroFilter
    missed: int = 0
    history: list[int] = field(default_factory=list)  # frame indices it was detected on


class FaceTracker:
    """Match detections to followed faces frame by frame and smooth their landmarks."""

    def __init__(self, config: SmoothingConfig | None = None, smooth: bool = True) -> None:
        self.config = config or SmoothingConfig()
        self.smooth = smooth
        self.tracks: list[Track] = []
        self.next_identity = 0

    def reset(self) -> None:
        """Forget every face (after a scene cut)."""
        self.tracks = []

    def update(self, detections: list[DetectedFace], time: float, frame: int = 0) -> list[Track]:
        """Followed faces after this frame's ``detections`` (at ``time`` seconds), largest first."""
        unmatched = list(range(len(detections)))
        for track in sorted(self.tracks, key=lambda t: t.missed):
            best = self._best_match(track, detections, unmatched)
            if best is None:
                track.missed += 1
                continue
            unmatched.remove(best)
            self._continue(track, detections[best], time, frame)
        self.tracks = [t for t in self.tracks if t.missed <= self.config.max_missed]
        for index in unmatched:
            self._start(detections[index], time, frame)
        return sorted(self.tracks, key=lambda t: _size(t.face), reverse=True)

    def _best_match(self, track: Track, detections: list[DetectedFace], candidates: list[int]) -> int | None:
        scored = []
        for index in candidates:
            overlap = _iou(track.face.box, detections[index].box)
            distance = float(np.linalg.norm(track.face.landmarks - detections[index].landmarks, axis=1).mean())
            near = distance <= self.config.max_shift * _size(detections[index])
            if overlap >= self.config.min_overlap or near:
                scored.append((overlap, -distance, index))
        return max(scored)[2] if scored else None

    def _continue(self, track: Track, detection: DetectedFace, time: float, frame: int) -> None:
        landmarks = detection.landmarks
        if self.smooth:
            flat = track.filter(detection.landmarks.reshape(-1), time, _size(detection))
            landmarks = flat.reshape(5, 2).astype(np.float32)
        track.face = DetectedFace(detection.box, detection.score, landmarks)
        track.missed = 0
        track.history.append(frame)

    def _start(self, detection: DetectedFace, time: float, frame: int) -> None:
        track = Track(self.next_identity, detection, OneEuroFilter(self.config))
        track.filter(detection.landmarks.reshape(-1), time, _size(detection))
        track.history.append(frame)
        self.tracks.append(track)
        self.next_identity += 1


def _size(face: DetectedFace) -> float:
    x0, y0, x1, y1 = face.box
    return max(x1 - x0, y1 - y0)


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def is_scene_cut(previous: np.ndarray | None, current: np.ndarray, threshold: float = 0.25) -> bool:
    """A hard cut between two frames: their small grey versions differ by more than ``threshold`` on average
    (in [0, 1]); camera motion and faces moving stay far below it."""
    if previous is None:
        return False
    return float(np.abs(_thumbnail(previous) - _thumbnail(current)).mean()) > threshold


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    import cv2

    small = cv2.resize(frame, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    return small.mean(axis=2)
