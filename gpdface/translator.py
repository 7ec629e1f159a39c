"""``Translator``: photo in, photo with every face in the style out.

    >>> from gpdface import Translator
    >>> result = Translator("sketch")("me.jpg")
    >>> result.save("me_sketch.jpg")

Steps: read (EXIF, any mode) → detect → align each face to the style's template → all crops of an image
through the student in one batch → render the rest of the photo as the style's ``background`` says → paste
each face back with a mask that follows its head.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch

from .background import Background, render_background
from .errors import SWITCH, GpdfaceError, InputError, NoFaceError, UsageError, WeightsError
from .face.align import align_face
from .face.blend import head_mask, paste_faces
from .face.detect import DetectedFace, Detector
from .imageio import (
    ImageSource,
    LoadedImage,
    read_image,
    to_tensor,
    to_uint8,
    write_images,
)
from .nets.fuse import fold_batchnorm
from .options import TranslateOptions
from .output_plan import crop_path
from .style import Style, load_style
from .tone_layer import apply_tone_layer
from .video import DETECT_EVERY

if TYPE_CHECKING:
    from .video import VideoSummary

MAX_WHOLE_SIDE = 2048  # the `student` background runs on at most this long a side
WHOLE_TILE, WHOLE_MARGIN = 512, 128  # tiles of the `student` background; the margin exceeds the student's reach


def _tiles(height: int, width: int, tile: int, margin: int):
    """``(y0, y1, x0, x1, (top, bottom, left, right))``: each output tile and the larger window it is computed
    from (the tile plus ``margin`` on every side, clipped to the image). Sizes are multiples of 8 when the
    image's are, so every window keeps the student's downsampling grid."""
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            window = (max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin))
            yield y0, y1, x0, x1, window


@dataclass
class FaceRecord:
    """One translated face.

    Attributes:
        box: ``(x0, y0, x1, y1)`` in photo pixels.
        score: detector confidence (1.0 for ``aligned`` input).
        landmarks: ``5 2`` landmarks in photo pixels.
        matrix: ``2 3`` affine photo → aligned crop.
        inverse: ``2 3`` affine aligned crop → photo.
        crop: ``S S 3`` uint8 stylized aligned crop.
        outputs: files this face was written to (filled by ``TranslationResult.save``).
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray
    matrix: np.ndarray
    inverse: np.ndarray
    crop: np.ndarray
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [round(v, 2) for v in self.box],
            "score": round(self.score, 4),
            "landmarks": np.round(self.landmarks.astype(np.float64), 2).tolist(),
            "outputs": list(self.outputs),
        }


@dataclass
class TranslationResult:
    """What ``Translator`` returns for one image.

    Attributes:
        image: ``H W 3`` uint8 photo with the stylized faces pasted back.
        faces: one record per face, largest first.
        output: what ``save`` writes: ``paste`` (the photo), ``crop`` (aligned crops) or ``both``.
        alpha: the input's alpha plane, put back on save.
        source: the input path, when there was one.
    """

    image: np.ndarray
    faces: list[FaceRecord]
    output: str = "paste"
    alpha: np.ndarray | None = None
    source: str | None = None

    def output_paths(self, path: str | os.PathLike) -> list[Path]:
        """The files ``save(path)`` writes: the photo at ``path``, crops at ``<stem>_face<i><suffix>``."""
        path = Path(path)
        paths = [path] if self.output in ("paste", "both") else []
        if self.output in ("crop", "both"):
            paths += [crop_path(path, i) for i in range(len(self.faces))]
        return paths

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> list[Path]:
        """Write the outputs (atomically) and return their paths.

        Raises:
            UsageError: an output would replace the input file and ``overwrite`` is False.
        """
        targets = self.output_paths(path)
        if self.source and not overwrite:
            for target in targets:
                if target.exists() and target.resolve() == Path(self.source).resolve():
                    raise UsageError(
                        f"{target} is the input file; choose another output or pass {SWITCH}", switch="overwrite"
                    )
        items: list[tuple[Path, np.ndarray, np.ndarray | None]] = []
        if self.output in ("paste", "both"):
            items.append((targets[0], self.image, self.alpha))
        crop_targets = targets[-len(self.faces) :] if self.output in ("crop", "both") and self.faces else []
        items += [(target, face.crop, None) for face, target in zip(self.faces, crop_targets, strict=False)]
        written = write_images(items)  # all or nothing: a full disk leaves neither the photo nor some crops
        for face, target in zip(self.faces, crop_targets, strict=False):
            face.outputs.append(str(target))
        if self.output in ("paste", "both"):
            for face in self.faces:
                face.outputs.insert(0, str(targets[0]))
        return written

    def to_pil(self):
        """The pasted photo as a PIL image (with the input's alpha)."""
        from PIL import Image

        image = Image.fromarray(self.image, mode="RGB")
        if self.alpha is not None:
            image.putalpha(Image.fromarray(self.alpha, mode="L"))
        return image

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "size": [int(self.image.shape[1]), int(self.image.shape[0])],
            "faces": [face.to_dict() for face in self.faces],
        }


@dataclass
class PreparedImage:
    """An image read, its faces detected and aligned: what ``Translator.compose`` needs besides the
    stylized crops."""

    loaded: LoadedImage
    detections: list[DetectedFace]
    crops: list[np.ndarray]
    matrices: list[np.ndarray]
    inverses: list[np.ndarray]
    aligned: bool


class _StageClock:
    """Adds each stage's wall time into a dict (or does nothing without one)."""

    def __init__(self, seconds: dict[str, float] | None) -> None:
        self.seconds = seconds

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        if self.seconds is None:
            yield
            return
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - began


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` → CUDA when available, else CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError):
        raise InputError(f"device must be auto, cpu, cuda or cuda:N, not {device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {str(device)!r} was asked for but PyTorch sees no CUDA device; use cpu")
    return device


class Translator:
    """Translate every face of a photo into a style.

    Args:
        style: a style name (``gpdface styles`` lists them) or a style folder.
        device: ``auto``, ``cpu``, ``cuda`` or a torch device.
        dtype: the student's dtype; float16 on CUDA and float32 on CPU when None.
        detector: a ``Detector``, or the name of a RetinaFace model (built on first use).
        threshold: minimum detector confidence.
        min_face: minimum face box side in photo pixels.
        scan_face: the face size (photo pixels) detection is first sized for; smaller faces are looked for
            only when none that large is found. None: every photo searched at full detail (slower).
        max_faces: keep at most this many faces, largest first (None: all).
        output: ``paste``, ``crop`` or ``both``; the style's default when None.
        background: ``keep``, ``grey``, ``pencil`` or ``student``: how the photo around the faces is
            rendered; the style's choice when None (a ``pencil`` style keeps its fitted tone).
        batch_size: crops per student forward pass.
        max_pixels: images with more pixels are refused (decompression-bomb guard).
        backend: ``torch``, or ``onnxruntime`` (the student exported to ONNX once per style and cached;
            ``pip install "gpdface[onnx]"``); the detector runs in PyTorch either way.
    """

    def __init__(
        self,
        style: str | Path = "sketch",
        device: str | torch.device = TranslateOptions.device,
        dtype: torch.dtype | None = None,
        detector: Detector | str = TranslateOptions.detector,
        threshold: float = TranslateOptions.threshold,
        min_face: float = TranslateOptions.min_face,
        scan_face: float | None = TranslateOptions.scan_face,
        max_faces: int | None = TranslateOptions.max_faces,
        output: str | None = TranslateOptions.output,
        background: str | None = TranslateOptions.background,
        batch_size: int = TranslateOptions.batch_size,
        max_pixels: int = TranslateOptions.max_pixels,
        backend: str = TranslateOptions.backend,
    ) -> None:
        options = TranslateOptions(
            device=str(device), output=output, background=background, max_faces=max_faces,  # type: ignore[arg-type]
            batch_size=batch_size, threshold=threshold, min_face=min_face, scan_face=scan_face,
            detector=detector if isinstance(detector, str) else TranslateOptions.detector,
            backend=backend, max_pixels=max_pixels,  # type: ignore[arg-type]
        )  # fmt: skip
        self._setup(style, options, dtype, detector)

    @classmethod
    def from_options(cls, style: str | Path, options: TranslateOptions, dtype: torch.dtype | None = None) -> Translator:
        """A translator for ``style`` with checked ``options`` (what the command line and the demo build)."""
        translator = cls.__new__(cls)
        translator._setup(style, options, dtype, options.detector)
        return translator

    def _setup(
        self, style: str | Path, options: TranslateOptions, dtype: torch.dtype | None, detector: Detector | str
    ) -> None:
        self.options = options
        self.device = pick_device(options.device)
        self.dtype = dtype or (torch.float16 if self.device.type == "cuda" else torch.float32)
        self.style: Style = load_style(style)
        # inference only: batch normalisations folded into the convolutions (same outputs, no extra passes)
        self.model = fold_batchnorm(self.style.model).to(self.device, self.dtype, memory_format=torch.channels_last)
        self.backend, self._session = options.backend, None
        if options.backend == "onnxruntime":
            from .onnx_export import cached_onnx_student, ort_session

            self._session = ort_session(cached_onnx_student(self.style), self.device.type)
        self.crop_size = self.style.info.crop_size
        self.template = self.style.info.template_array()
        self.output = options.output or self.style.info.default_output
        style_background = self.style.info.background
        if options.background is None or options.background == style_background.mode:
            self.background = style_background
        else:
            self.background = Background(options.background)
        self.threshold, self.min_face, self.scan_face = options.threshold, options.min_face, options.scan_face
        self.max_faces, self.batch_size, self.max_pixels = options.max_faces, options.batch_size, options.max_pixels
        self._detector = detector

    @property
    def detector(self) -> Detector:
        """The face detector, built (and its weights resolved) on first use."""
        if isinstance(self._detector, str):
            from .face.detect import RetinaFaceDetector

            self._detector = RetinaFaceDetector(
                self._detector,
                device=self.device,
                threshold=self.threshold,
                min_size=self.min_face,
                scan_face=self.scan_face,
            )
        return self._detector

    def __call__(self, image: ImageSource, aligned: bool = False) -> TranslationResult:
        """Translate one image.

        Args:
            image: a path, PIL image, ``H W 3`` uint8 array or ``3 H W`` tensor.
            aligned: the image is already an aligned face crop: skip detection.

        Raises:
            InputError: the image cannot be read.
            NoFaceError: no face was found (and ``aligned`` is False).
        """
        prepared = self.prepare(image, aligned)
        return self.compose(prepared, self.stylize(prepared.crops))

    def translate_video(
        self,
        source: str | os.PathLike,
        output: str | os.PathLike,
        start: float = 0.0,
        duration: float | None = None,
        smooth: bool = True,
        on_frame: Callable[[int, int | None], None] | None = None,
        detect_every: int = DETECT_EVERY,
    ) -> VideoSummary:
        """Translate every face of every frame of a video file into ``output`` (sound copied unchanged).

        Faces are followed across frames and their landmarks smoothed, so the result does not jitter; the
        whole frame is searched for faces every ``detect_every`` frames, in between only near each face.
        ``gpdface.video.translate_video`` has the details. Needs PyAV (``pip install "gpdface[video]"``).

        Raises:
            InputError: not a readable video (or no video stream, or cut short), or PyAV is missing.
            OutputError: the output cannot be written.
        """
        from .video import translate_video

        return translate_video(
            self, source, output, start, duration, smooth=smooth, on_frame=on_frame, detect_every=detect_every
        )

    def translate_many(
        self, images: Iterable[ImageSource], aligned: bool = False, seconds: dict[str, float] | None = None
    ) -> Iterator[tuple[ImageSource, TranslationResult | GpdfaceError]]:
        """Translate many images, yielding ``(input, result)`` or ``(input, error)`` in input order.

        Face crops of consecutive images are pooled so that each student forward pass holds up to
        ``batch_size`` crops (the fast path on a GPU). A bad input does not stop the rest: its
        ``GpdfaceError`` is yielded in place of a result. ``seconds``, when given, accumulates the wall time
        of each stage: ``prepare`` (read, detect, align), ``stylize`` and ``compose``.
        """
        clock = _StageClock(seconds)
        pending: list[tuple[ImageSource, PreparedImage | GpdfaceError]] = []
        crops = 0
        for image in images:
            try:
                with clock("prepare"):
                    prepared: PreparedImage | GpdfaceError = self.prepare(image, aligned)
                crops += len(prepared.crops)
            except GpdfaceError as exc:
                prepared = exc
            pending.append((image, prepared))
            if crops >= self.batch_size:
                yield from self._finish_pending(pending, clock)
                pending, crops = [], 0
        yield from self._finish_pending(pending, clock)

    def _finish_pending(self, pending, clock: _StageClock):
        ready = [p for _, p in pending if isinstance(p, PreparedImage)]
        with clock("stylize"):
            stylized = iter(self.stylize([crop for p in ready for crop in p.crops]))
        for image, prepared in pending:
            if isinstance(prepared, GpdfaceError):
                yield image, prepared
            else:
                with clock("compose"):
                    result = self.compose(prepared, [next(stylized) for _ in prepared.crops])
                yield image, result

    def stylize(self, crops: list[np.ndarray]) -> list[np.ndarray]:
        """Run aligned ``S S 3`` uint8 crops through the student in batches of ``batch_size``, then the style's
        tone layer (if any)."""
        outputs: list[np.ndarray] = []
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                batch = torch.stack([to_tensor(c) for c in crops[start : start + self.batch_size]])  # B 3 S S
                drawn = apply_tone_layer(batch, self.run_student(batch).cpu(), self.style.info.tone_layer)
                outputs.extend(to_uint8(drawn))
        return outputs

    def run_student(self, batch: torch.Tensor) -> torch.Tensor:
        """``B 3 H W`` float in [-1, 1] through the student on this translator's backend: float32, on the CPU
        for ONNX Runtime, on the translator's device for PyTorch."""
        if self._session is not None:
            drawn = torch.from_numpy(self._session.run(None, {"image": batch.float().cpu().numpy()})[0])
        else:
            with torch.inference_mode():
                batch = batch.to(self.device, self.dtype).contiguous(memory_format=torch.channels_last)
                drawn = self.model(batch).float()
        if not torch.isfinite(drawn).all():  # e.g. fp16 overflow on CUDA: a black face would be no answer
            raise WeightsError(
                f"the style {self.style.name!r} drew non-finite values on {self.device.type} "
                f"({self.dtype}); its weights overflow there — try --device cpu, or another style"
            )
        return drawn

    def prepare(self, image: ImageSource, aligned: bool = False) -> PreparedImage:
        """Read an image, detect its faces and align them (or take it as one aligned crop)."""
        loaded = read_image(image, self.max_pixels)
        if aligned:
            return self._prepare_aligned(loaded)
        return self.align(loaded, self.detect(loaded))

    def detect(self, loaded: LoadedImage) -> list[DetectedFace]:
        """The faces of a read image, largest first, at most ``max_faces``.

        Raises:
            NoFaceError: none was found.
        """
        detections = self.detector.detect(loaded.rgb)
        if self.max_faces is not None:
            detections = detections[: self.max_faces]
        if not detections:
            name = loaded.source or "the image"
            raise NoFaceError(
                f"no face found in {name} (confidence ≥ {self.threshold}, side ≥ {self.min_face:g} px); "
                f"if it is already an aligned face crop, pass {SWITCH}",
                switch="aligned",
            )
        return detections

    def align(self, loaded: LoadedImage, detections: list[DetectedFace]) -> PreparedImage:
        """Each detected face warped to the style's template at its crop size."""
        faces = [align_face(loaded.rgb, d.landmarks, self.crop_size, self.template) for d in detections]
        return PreparedImage(
            loaded, detections, [f.crop for f in faces], [f.matrix for f in faces], [f.inverse for f in faces], False
        )

    def _prepare_aligned(self, loaded: LoadedImage) -> PreparedImage:
        width, height = loaded.size
        size = self.crop_size
        matrix = np.array([[size / width, 0, 0], [0, size / height, 0]], np.float64)
        crop = cv2.resize(loaded.rgb, (size, size), interpolation=cv2.INTER_AREA if width > size else cv2.INTER_LINEAR)
        inverse = cv2.invertAffineTransform(matrix)
        landmarks = (np.c_[self.template, np.ones(5)] @ inverse.T).astype(np.float32)
        detection = DetectedFace((0.0, 0.0, float(width), float(height)), 1.0, landmarks)
        return PreparedImage(loaded, [detection], [crop], [matrix], [inverse], True)

    def stylize_whole(self, image: np.ndarray, scale: float) -> np.ndarray:
        """The student on a whole ``H W 3`` uint8 photo resized by ``scale`` (photo → crop pixels), so that
        its faces are at the size the student was trained on; the result at the photo's size.

        The photo goes through in tiles with a margin wider than the student's reach, so memory stays
        bounded on large photos; for a batch-normalised (local) student the result is exactly the
        untiled one.
        """
        height, width = image.shape[:2]
        scale = min(scale, MAX_WHOLE_SIDE / max(height, width))  # bound the work on huge photos
        multiple = 2 ** (len(self.style.model.config.channels) - 1)  # the student halves the side this often
        new_w, new_h = max(multiple, round(width * scale)), max(multiple, round(height * scale))
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        pad_h, pad_w = -new_h % multiple, -new_w % multiple
        padded = cv2.copyMakeBorder(resized, 0, pad_h, 0, pad_w, cv2.BORDER_REFLECT_101)
        drawn = np.empty_like(padded)
        for y0, y1, x0, x1, (top, bottom, left, right) in _tiles(*padded.shape[:2], WHOLE_TILE, WHOLE_MARGIN):
            tile = padded[top:bottom, left:right]
            out = to_uint8(self.run_student(to_tensor(tile)[None]))[0]
            drawn[y0:y1, x0:x1] = out[y0 - top : y1 - top, x0 - left : x1 - left]
        return cv2.resize(drawn[:new_h, :new_w], (width, height), interpolation=cv2.INTER_LINEAR)

    def compose(self, prepared: PreparedImage, stylized: list[np.ndarray]) -> TranslationResult:
        """The result: the photo rendered as the style's background says, each stylized face pasted back with
        its head mask (or, for aligned input, the stylized crop at the input's size)."""
        loaded = prepared.loaded
        if prepared.aligned:
            width, height = loaded.size
            image = cv2.resize(stylized[0], (width, height), interpolation=cv2.INTER_LINEAR)
        else:
            largest = int(np.argmax([abs(np.linalg.det(m[:, :2])) ** -0.5 for m in prepared.matrices]))
            photo_to_crop = abs(np.linalg.det(prepared.matrices[largest][:, :2])) ** 0.5
            eye_distance = float(np.hypot(*(self.template[1] - self.template[0]))) / photo_to_crop
            base = render_background(
                loaded.rgb, self.background, eye_distance, lambda photo: self.stylize_whole(photo, photo_to_crop)
            )
            masks = [
                head_mask(np.c_[d.landmarks, np.ones(5)] @ m.T, self.crop_size)
                for d, m in zip(prepared.detections, prepared.matrices, strict=True)
            ]
            image = paste_faces(base, stylized, prepared.inverses, masks)
        faces = [
            FaceRecord(d.box, d.score, d.landmarks, m, inv, crop)
            for d, m, inv, crop in zip(prepared.detections, prepared.matrices, prepared.inverses, stylized, strict=True)
        ]
        return TranslationResult(image, faces, self.output, loaded.alpha, loaded.source)
