"""Face detection: a small ``Detector`` protocol and RetinaFace through facexlib.

facexlib is imported only when a detector is built (``import gpdface`` stays cheap), and only its network
definition is used: the weights are resolved and sha256-checked by gpdface's registry and loaded with
``torch.load(weights_only=True)``, so facexlib never downloads anything or writes into site-packages.
Decoding the network's output is done here (``_decode``), not by facexlib's stateful ``detect_faces``: that
rebuilds its ~28,000 anchor boxes in a Python loop on every call, which was half of the detection time on a
1024² photo (80 of 160 ms on 2 cores); the anchors here are built with numpy once per input size and cached.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import cv2
import numpy as np
import torch

from ..checkpoint import load_checkpoint
from ..errors import InputError, WeightsError
from ..nets.fuse import fold_batchnorm
from ..options import DEFAULT_DETECTOR
from ..shapes import check_shape

# The coarse pass: a face of ``scan_face`` photo pixels must still be this many pixels tall in the copy that
# detection runs on (at 20–28 px RetinaFace MobileNet-0.25 missed some 40 px faces that the one-pass
# detector found; at 32 none: benchmarks/detection.py),
# and the copy is never made smaller than COARSE_FLOOR on its long side.
DETECTABLE_PX = 32.0
COARSE_FLOOR = 640  # below this a coarse pass saves little and costs landmark precision
# A face found at least this large in the copy already has landmarks finer than a 256 px crop's pixels (its
# face box is ~140 px there); smaller ones are detected again at full resolution — when the copy is under
# REFINE_SCALE of the photo (above it, a group photo's dozen small faces would cost a dozen extra passes
# for little: on 1024 px group sheets that made detection 1.5× slower than one full pass).
REFINE_BELOW_PX = 160.0
REFINE_SCALE = 0.5
# A face looked for near where it was (videos, between whole-frame searches): its 2× window is scaled to this
# side, so the face is REFINE_BELOW_PX tall. Measured on benchmarks/video.py's clip: 320 gave steadier
# landmarks than whole-frame detection (jitter 0.40 vs 0.48 px RMS); 192 was faster but shook more (0.59).
NEAR_SIDE = round(2 * REFINE_BELOW_PX)
# A face under VERIFY_BELOW_PX with a score under VERIFY_SCORE is kept only if it is found again on its own
# aligned crop enlarged to VERIFY_SIDE (``_looks_like``): a 25×29 px pattern beside a girl in a full-body
# photo was drawn as an extra head.
VERIFY_BELOW_PX = 48.0
VERIFY_SCORE = 0.97
VERIFY_SIDE = 192
_NETWORKS = {"retinaface_mobile0.25": "mobile0.25", "retinaface_resnet50": "resnet50"}


@dataclass(frozen=True)
class DetectedFace:
    """One detection in photo pixels.

    Attributes:
        box: ``(x0, y0, x1, y1)``.
        score: detector confidence in [0, 1].
        landmarks: ``5 2`` — left eye, right eye, nose, left mouth corner, right mouth corner.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray

    @property
    def size(self) -> float:
        """The longer side of the box."""
        return max(self.box[2] - self.box[0], self.box[3] - self.box[1])


def runnable_detectors() -> tuple[str, ...]:
    """The detector names whose weights the manifest pins (others need ``weights=PATH``)."""
    from ..manifest import load_manifest

    pinned = load_manifest().detectors
    return tuple(name for name in _NETWORKS if name in pinned)


class Detector(Protocol):
    """Anything that finds faces with 5 landmarks in an ``H W 3`` uint8 RGB image."""

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]: ...


@runtime_checkable
class LocalDetector(Detector, Protocol):
    """A detector that can also look for a known face near where it was (videos use it between whole-frame
    detections)."""

    def detect_near(self, rgb: np.ndarray, face: DetectedFace) -> DetectedFace | None: ...


class RetinaFaceDetector:
    """RetinaFace (facexlib's network) with gpdface-managed weights.

    Args:
        name: ``retinaface_mobile0.25`` (fast on CPU) or ``retinaface_resnet50``.
        device: torch device to run on.
        threshold: minimum confidence.
        min_size: minimum box side in photo pixels.
        max_side: the photo is downscaled so its long side is at most this before detection.
        scan_face: the smallest face (box side, photo pixels) the first, coarse pass is sized to find;
            smaller faces are looked for (on the ``max_side`` copy) only when that pass finds none. None: one
            pass at ``max_side`` (slower on big photos, finds small faces beside large ones).
        weights: a local ``.pth`` file to use instead of the manifest's (loaded with ``weights_only=True``).
    """

    def __init__(
        self,
        name: str = DEFAULT_DETECTOR,
        device: str | torch.device = "cpu",
        threshold: float = 0.8,
        min_size: float = 16.0,
        max_side: int = 1024,
        weights: str | Path | None = None,
        scan_face: float | None = 40.0,
    ) -> None:
        if name not in _NETWORKS:
            raise InputError(f"unknown detector {name!r}; choose one of {', '.join(_NETWORKS)}")
        if scan_face is not None and not scan_face > 0:
            raise InputError(f"scan_face must be a positive number of pixels, not {scan_face!r}")
        self.name, self.threshold, self.min_size, self.max_side = name, threshold, min_size, max_side
        self.scan_face = scan_face
        self.device = torch.device(device)
        self.model = _build_retinaface(name, self.device, Path(weights) if weights else _resolve_weights(name))

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Faces in ``rgb`` (``H W 3`` uint8), largest first.

        Detection runs first on a copy just large enough for a ``scan_face`` face (``detection_side``), and
        again on the ``max_side`` copy only if that finds nothing. When the copy is much smaller than the
        photo, a face that is small in it (under ``REFINE_BELOW_PX``) is detected again on a full-resolution
        window around it, so its landmarks keep the photo's precision (one small extra pass per such face).
        """
        check_shape(rgb, "H W 3", "image")
        long_side = max(rgb.shape[:2])
        fine = min(long_side, self.max_side)
        side = self.detection_side(long_side)
        faces = self._detect_scaled(rgb, side)
        if not faces and side < fine:  # nothing at the coarse scale: faces may all be small; look finer
            side = fine
            faces = self._detect_scaled(rgb, side)
        faces = [f for f in faces if f.size >= self.min_size]
        scale = side / long_side
        refine = scale < REFINE_SCALE
        faces = [self._refine(rgb, f) if refine and f.size * scale < REFINE_BELOW_PX else f for f in faces]
        faces = [f for f in faces if f.size >= VERIFY_BELOW_PX or f.score >= VERIFY_SCORE or self._looks_like(rgb, f)]
        return sorted(faces, key=lambda f: f.size, reverse=True)

    def _looks_like(self, rgb: np.ndarray, face: DetectedFace) -> bool:
        """Whether a small, unsure detection is a face: aligned to the face template and enlarged, the
        detector must find it again, confidently, with its landmarks where the template has them. Texture
        that passed for a tiny face (a pattern beside a child in a full-body photo) does not."""
        from .align import align_face, template_for

        template = template_for(VERIFY_SIDE)
        crop = align_face(rgb, face.landmarks, VERIFY_SIDE, template).crop
        eye = float(np.linalg.norm(template[1] - template[0]))
        for row in self._run_network(crop):
            points = row[5:15].reshape(5, 2)
            if row[4] >= self.threshold and np.linalg.norm(points.mean(0) - template.mean(0)) < 0.25 * eye:
                return True
        return False

    def landmark_field(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every anchor's face probability (``B A``) and five landmarks (``B A 5 2``, pixels) for ``B 3 H W``
        RGB images in [-1, 1], differentiable with respect to the images (the network's own weights stay
        fixed): what a training term needs to keep a drawn face where its photo has it."""
        check_shape(images, "B 3 H W", "images")
        height, width = images.shape[-2:]
        bgr = ((images.flip(1) + 1) * 127.5 - _BGR_MEAN.to(images.device).view(1, 3, 1, 1)).contiguous()
        self.model.requires_grad_(False)
        _, conf, landmarks = self.model(bgr)
        cfg = self.model.cfg
        priors = _anchors(height, width, _frozen(cfg["min_sizes"]), tuple(cfg["steps"])).to(images.device)
        centre, extent = priors[:, :2], priors[:, 2:]
        points = centre.repeat(1, 5) + landmarks * cfg["variance"][0] * extent.repeat(1, 5)
        pixels = torch.tensor((width, height), dtype=points.dtype, device=images.device).repeat(5)
        return conf[..., 1], (points * pixels).view(len(images), -1, 5, 2)

    @torch.no_grad()
    def backbone_stages(self, rgb: torch.Tensor) -> list[torch.Tensor]:
        """The backbone's stage outputs for ``B 3 H W`` RGB images in 0–255, normalised as the network was
        trained (BGR, channel means subtracted): features a measure of face images can use."""
        check_shape(rgb, "B 3 H W", "images")
        bgr = rgb.flip(1).to(self.device) - _BGR_MEAN.to(self.device).view(1, 3, 1, 1)
        return list(self.model.body(bgr.contiguous(memory_format=torch.channels_last)).values())

    def detection_side(self, long_side: int) -> int:
        """The long side of the copy the first pass runs on: as small as lets a ``scan_face`` face keep
        ``DETECTABLE_PX`` pixels (never under ``COARSE_FLOOR``), at most ``max_side``, never upscaled."""
        fine = min(long_side, self.max_side)
        if self.scan_face is None:
            return fine
        return min(fine, max(COARSE_FLOOR, math.ceil(long_side * DETECTABLE_PX / self.scan_face)))

    def _detect_scaled(
        self, rgb: np.ndarray, side: int | None = None, offset: tuple[int, int] = (0, 0)
    ) -> list[DetectedFace]:
        height, width = rgb.shape[:2]
        scale = min(1.0, (side or self.max_side) / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        rows = self._run_network(small)
        shift = np.array(offset, np.float64)
        faces = []
        for row in rows:
            box = row[:4].reshape(2, 2) / scale + shift
            landmarks = row[5:15].reshape(5, 2) / scale + shift
            faces.append(
                DetectedFace(tuple(float(v) for v in box.ravel()), float(row[4]), landmarks.astype(np.float32))
            )
        return faces

    @torch.inference_mode()
    def _run_network(self, rgb: np.ndarray) -> np.ndarray:
        """``N 15`` rows (box x0 y0 x1 y1, score, five landmarks x y) in ``rgb``'s pixels, best first."""
        height, width = rgb.shape[:2]
        # the network was trained on BGR with the ImageNet-Caffe channel means subtracted
        bgr = torch.from_numpy(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)).to(self.device)
        # uint8 − float32 is float32, in one pass; H W C permuted to 1 C H W is already channels-last
        x = (bgr - _BGR_MEAN.to(self.device)).permute(2, 0, 1)[None].contiguous(memory_format=torch.channels_last)
        loc, conf, landmarks = self.model(x)
        cfg = self.model.cfg
        priors = _anchors(height, width, _frozen(cfg["min_sizes"]), tuple(cfg["steps"])).to(self.device)
        return _decode(loc[0], conf[0, :, 1], landmarks[0], priors, cfg["variance"], (width, height), self.threshold)

    def _refine(self, rgb: np.ndarray, face: DetectedFace) -> DetectedFace:
        """Detect ``face`` again in a window of twice its size at full resolution; keep it if that fails."""
        return self._detect_in_window(rgb, face, self.max_side) or face

    def detect_near(self, rgb: np.ndarray, face: DetectedFace) -> DetectedFace | None:
        """``face`` found again in ``rgb`` near where it was (a later video frame), or None if it is gone.

        One pass on a window of twice the face's size around its box, scaled to ``NEAR_SIDE`` so the face is
        about ``REFINE_BELOW_PX`` tall (the size whose landmarks need no refinement): for a face in a
        1280×720 frame under half the cost of a whole-frame pass, and at least as precise.
        """
        check_shape(rgb, "H W 3", "image")
        return self._detect_in_window(rgb, face, NEAR_SIDE)

    def _detect_in_window(self, rgb: np.ndarray, face: DetectedFace, side: int) -> DetectedFace | None:
        x0, y0, x1, y1 = face.box
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, face.size
        left, top = max(0, int(cx - half)), max(0, int(cy - half))
        right, bottom = min(rgb.shape[1], int(cx + half)), min(rgb.shape[0], int(cy + half))
        if right - left < self.min_size or bottom - top < self.min_size:
            return None  # the face has left the frame
        candidates = self._detect_scaled(rgb[top:bottom, left:right], side, offset=(left, top))
        candidates = [f for f in candidates if f.size >= self.min_size]
        if not candidates:
            return None
        centre = np.array([cx, cy])
        return min(candidates, key=lambda f: np.linalg.norm(f.landmarks.mean(axis=0) - centre))


_BGR_MEAN = torch.tensor([104.0, 117.0, 123.0])
NMS_IOU = 0.4  # RetinaFace's own setting: overlapping boxes above it are one face


def _frozen(nested: list[list[int]]) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(inner) for inner in nested)


@functools.lru_cache(maxsize=16)
def _anchors(height: int, width: int, min_sizes: tuple[tuple[int, ...], ...], steps: tuple[int, ...]) -> torch.Tensor:
    """RetinaFace's anchors for an input of ``height × width``: ``A 4`` (centre x, centre y, width, height) as
    fractions of the input, row by row of each feature map, each cell's sizes in order."""
    levels = []
    for sizes, step in zip(min_sizes, steps, strict=True):
        rows, cols = math.ceil(height / step), math.ceil(width / step)
        cy, cx = np.meshgrid((np.arange(rows) + 0.5) * step / height, (np.arange(cols) + 0.5) * step / width,
                             indexing="ij")  # fmt: skip
        per_size = [
            np.stack([cx, cy, np.full_like(cx, size / width), np.full_like(cy, size / height)], axis=-1)
            for size in sizes
        ]  # each rows cols 4
        levels.append(np.stack(per_size, axis=2).reshape(-1, 4))
    return torch.from_numpy(np.concatenate(levels).astype(np.float32))


def _decode(
    loc: torch.Tensor,
    scores: torch.Tensor,
    landmarks: torch.Tensor,
    priors: torch.Tensor,
    variance: list[float],
    size: tuple[int, int],
    threshold: float,
) -> np.ndarray:
    """The network's offsets (``A 4``, ``A``, ``A 10``) against ``priors`` → ``N 15`` detections in pixels
    (box, score, landmarks), those above ``threshold`` after non-maximum suppression, best first."""
    from torchvision.ops import nms

    keep = scores > threshold
    loc, scores, landmarks, priors = loc[keep], scores[keep], landmarks[keep], priors[keep]
    centre, extent = priors[:, :2], priors[:, 2:]
    box_centre = centre + loc[:, :2] * variance[0] * extent
    box_extent = extent * torch.exp(loc[:, 2:] * variance[1])
    boxes = torch.cat([box_centre - box_extent / 2, box_centre + box_extent / 2], dim=1)
    points = centre.repeat(1, 5) + landmarks * variance[0] * extent.repeat(1, 5)
    pixels = torch.tensor(size, dtype=torch.float32, device=loc.device)
    boxes, points = boxes * pixels.repeat(2), points * pixels.repeat(5)
    order = nms(boxes, scores, NMS_IOU)  # kept indices, highest score first
    rows = torch.cat([boxes[order], scores[order, None], points[order]], dim=1)
    return rows.cpu().numpy().astype(np.float64)


def _resolve_weights(name: str) -> Path:
    from ..hub import fetch_entry
    from ..manifest import load_manifest

    entry = load_manifest().detectors.get(name)
    if entry is None:
        raise WeightsError(
            f"detector {name!r} has no pinned weights in the manifest; pass weights=PATH to use a local file"
        )
    return next(iter(fetch_entry(entry).values()))


def _build_retinaface(name: str, device: torch.device, weights: Path) -> torch.nn.Module:
    from facexlib.detection.retinaface import RetinaFace

    state = load_checkpoint(weights, "detector weights")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    model = RetinaFace(network_name=_NETWORKS[name], half=False, device=device)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise WeightsError(f"{weights} is not a {name} checkpoint: {str(exc).splitlines()[0]}") from None
    # inference only: normalisations folded into the convolutions and channels-last memory, each about
    # halving the network's time on 2 CPU cores (benchmarks/speed.py, detector rows)
    return fold_batchnorm(model).to(device, memory_format=torch.channels_last).eval()
