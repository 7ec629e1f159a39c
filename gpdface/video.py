"""Videos: decode, translate every frame's faces with steady landmarks, encode; the sound is copied as it is.

PyAV (``pip install "gpdface[video]"``; its wheel carries FFmpeg's libraries) decodes and encodes. Frames
stream through one at a time, so memory does not grow with the clip's length. The video is written as
H.264 (``libx264``, yuv420p, the most widely playable choice) when the wheel has that encoder, else as
MPEG-4 Part 2; the frame rate and size are the input's; the first audio stream is copied packet by packet,
untouched. Faces are searched for in the whole frame every few frames and, in between, near where each
was; they are followed across frames and their landmarks smoothed (``gpdface.tracking``), so the
stylized face and its paste mask do not jitter. The output is written to a
temporary file beside the target and renamed when complete: an interrupted run leaves nothing under the
final name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import InputError
from .face.detect import LocalDetector
from .formats import VIDEO_SUFFIXES
from .imageio import LoadedImage, replaced_on_success
from .options import DETECT_EVERY
from .tracking import FaceTracker, SmoothingConfig, is_scene_cut

TIME_BASE = Fraction(1, 90000)  # the output's clock: MPEG's 90 kHz, fine enough for any frame's own time
CUT_SHORT = 0.9  # fewer frames than this share of what the header promises: the file is cut short

if TYPE_CHECKING:
    from .translator import Translator


@dataclass
class VideoSummary:
    """What ``translate_video`` did.

    Attributes:
        source, output: the files.
        frames: frames written.
        fps: their rate.
        size: (width, height).
        codec: the video encoder used.
        audio: whether an audio stream was copied.
        faces_per_frame: faces drawn on each frame.
        tracks: per frame, ``(identity, 5 2 landmarks)`` of each face drawn (the smoothed ones); small, kept
            for measurement (``benchmarks/video.py``) and left out of ``to_dict``.
        seconds: wall time, by stage (``decode``, ``detect``, ``stylize``, ``encode``) and in ``total``.
        warnings: things the user should know (e.g. no face anywhere).
    """

    source: str
    output: str
    frames: int = 0
    fps: float = 0.0
    size: tuple[int, int] = (0, 0)
    codec: str = ""
    audio: bool = False
    faces_per_frame: list[int] = field(default_factory=list)
    tracks: list[list[tuple[int, np.ndarray]]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        faces = self.faces_per_frame
        return {
            "source": self.source, "output": self.output, "frames": self.frames, "fps": round(self.fps, 3),
            "size": list(self.size), "codec": self.codec, "audio": self.audio,
            "frames_with_faces": sum(1 for n in faces if n), "max_faces": max(faces, default=0),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "warnings": self.warnings,
        }  # fmt: skip


def translate_video(
    translator: Translator,
    source: str | os.PathLike,
    output: str | os.PathLike,
    start: float = 0.0,
    duration: float | None = None,
    smoothing: SmoothingConfig | None = None,
    smooth: bool = True,
    on_frame: Callable[[int, int | None], None] | None = None,
    detect_every: int = DETECT_EVERY,
) -> VideoSummary:
    """Translate every face of every frame of ``source`` into ``output``.

    Args:
        translator: the style, detector and device to use.
        source, output: video files (the output's suffix chooses the container: .mp4, .mov, .mkv, …).
        start, duration: only this part of the clip, in seconds (for previews).
        smoothing: landmark filter settings; ``smooth=False`` uses each frame's raw detections.
        on_frame: called with (frames done, frames expected or None) after each frame.
        detect_every: the whole frame is searched for faces every this many frames (and after a scene cut or
            a face lost); in between, each followed face is looked for only near where it was, which costs a
            fraction of a whole-frame pass. 1: every frame is searched whole. A face entering the picture
            is drawn from the next whole-frame search on.

    Raises:
        InputError: PyAV is missing, the file is not a readable video, has no video stream, or is cut short.
        OutputError: the output cannot be written.
    """
    av = _import_av()
    source, output = Path(source), Path(output)
    if start < 0 or (duration is not None and duration <= 0):
        raise InputError("start must be ≥ 0 and duration > 0 seconds")
    if not (isinstance(detect_every, int) and detect_every >= 1):
        raise InputError(f"detect_every must be a whole number of frames ≥ 1, not {detect_every!r}")
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"{output}: a video output needs one of {', '.join(sorted(VIDEO_SUFFIXES))}")
    summary = VideoSummary(str(source), str(output))
    began = time.perf_counter()
    turns = _display_turns(av, source)
    with _open_input(av, source) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        width, height = video.codec_context.width, video.codec_context.height
        if width * height > translator.max_pixels:
            raise InputError(
                f"{source}: {width}×{height} frames = {width * height:,} pixels each exceed the limit of "
                f"{translator.max_pixels:,}; downscale the video first"
            )
        with (
            replaced_on_success(output) as temporary,
            av.open(str(temporary), mode="w", format=_container_format(output)) as sink,
        ):
            writer = _VideoWriter(av, sink, video, audio, start, upright=(height, width) if turns % 2 else None)
            summary.codec, summary.audio = writer.codec, audio is not None
            summary.fps, summary.size = float(writer.rate), (writer.width, writer.height)
            expected = _expected_frames(video, start, duration)
            frames = _frames_and_audio(av, container, video, audio, start, duration, source, turns)
            finder = _FaceFinder(translator, FaceTracker(smoothing, smooth=smooth), detect_every)
            last = _translate_frames(translator, frames, writer, summary, finder, expected, on_frame)
            promised = _promised_seconds(video, start, duration)
            slack = 2 / float(writer.rate)  # the last frame starts about a frame before the end
            if promised is not None and (last is None or last + slack < CUT_SHORT * promised):
                read = 0.0 if last is None else last
                raise InputError(
                    f"{source}: the video is cut short: frames end at {read:.2f} s of the {promised:.2f} s its "
                    "header promises"
                )
            writer.close()
    summary.seconds["total"] = time.perf_counter() - began
    if summary.frames and not any(summary.faces_per_frame):
        summary.warnings.append(f"no face in any frame of {source}: the video was copied through unchanged")
    return summary


def _display_turns(av, source: Path) -> int:
    """Quarter turns (counterclockwise) that show the stored frames upright, from the first frame's display
    matrix (a phone's portrait clip is stored on its side): frames are turned before anything else, so
    faces are found upright and the output plays as the input did, without relying on metadata."""
    with _open_input(av, source) as container:
        try:
            frame = next(container.decode(video=0), None)
        except av.error.FFmpegError:
            return 0  # the main pass reports a damaged file
    rotation = getattr(frame, "rotation", 0) or 0
    return round(rotation / 90) % 4


def _import_av():
    try:
        import av
    except ImportError:
        raise InputError('video needs PyAV: pip install "gpdface[video]"') from None
    return av


class _open_input:
    """``av.open`` for reading, its failures as one-line InputErrors naming the file."""

    def __init__(self, av, path: Path) -> None:
        self.av, self.path = av, path

    def __enter__(self):
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file")
        try:
            # text tags that are not UTF-8 (a damaged or foreign header) must not stop the pictures
            self.container = self.av.open(str(self.path), metadata_errors="replace")
        except self.av.error.FFmpegError as exc:
            raise InputError(f"{self.path}: not a video file FFmpeg can read ({_reason(exc)})") from None
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path}: the file has no video stream")
        if self.container.streams.video[0].codec_context is None:  # FFmpeg has no decoder for its codec
            self.container.close()
            raise InputError(f"{self.path}: its video codec is not one FFmpeg (PyAV's build) can decode")
        return self.container

    def __exit__(self, *exc) -> None:
        self.container.close()


def _reason(exc: Exception) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:160]


def _container_format(output: Path) -> str:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}[
        output.suffix.lower()
    ]


def _header_seconds(video) -> float | None:
    """The video's length as the file's headers give it (the stream's, else the container's)."""
    if video.duration:
        return float(video.duration * video.time_base)
    if video.container.duration:  # Matroska keeps the length in the container's header only
        return video.container.duration / 1_000_000
    return None


def _promised_seconds(video, start: float, duration: float | None) -> float | None:
    """How long the chosen part should run, by the headers (None when they do not say)."""
    total = _header_seconds(video)
    if total is None:
        return None
    available = max(0.0, total - start)
    return min(available, duration) if duration is not None else available


def _expected_frames(video, start: float, duration: float | None) -> int | None:
    """The frames the file's headers promise for the chosen part (None when they do not say)."""
    rate = float(video.average_rate or 0)
    seconds = _header_seconds(video)
    total = video.frames or (int(seconds * rate) if seconds else 0)
    if not total or not rate:
        return None
    available = max(0, total - round(start * rate))
    return min(available, round(duration * rate)) if duration is not None else available


class _VideoWriter:
    """The output's video stream (H.264 where available) and the copied audio stream."""

    def __init__(self, av, sink, video, audio, start: float, upright: tuple[int, int] | None = None) -> None:
        self.av, self.sink = av, sink
        self.rate = video.average_rate or Fraction(25)
        self.width, self.height = upright or (video.codec_context.width, video.codec_context.height)
        self.codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        even = self.width % 2 == 0 and self.height % 2 == 0
        self.stream = sink.add_stream(self.codec, rate=self.rate)
        self.stream.width, self.stream.height = self.width, self.height
        # yuv420p is what players expect; it needs even sides, so odd ones keep full chroma instead
        self.stream.pix_fmt = "yuv420p" if even or self.codec != "libx264" else "yuv444p"
        if self.codec == "libx264":
            self.stream.options = {"crf": "18", "preset": "medium"}
        # each frame keeps its own time (variable frame rates: a nominal rate would shorten the video)
        self.stream.codec_context.time_base = TIME_BASE
        self.last_pts = -1
        self.audio = sink.add_stream_from_template(audio) if audio is not None else None
        self.audio_offset = None if audio is None else round(start / float(audio.time_base))

    def write_frame(self, rgb: np.ndarray, seconds: float) -> None:
        frame = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.last_pts = max(round(seconds / TIME_BASE), self.last_pts + 1)
        frame.time_base = TIME_BASE
        for packet in self.stream.encode(frame):
            self.sink.mux(packet)

    def write_audio(self, packet) -> None:
        if self.audio is None or packet.pts is None:
            return
        packet.pts -= self.audio_offset
        if packet.dts is not None:
            packet.dts -= self.audio_offset
        if packet.pts < 0 and self.audio_offset > 0:  # cut before a later start
            return
        packet.stream = self.audio
        self.sink.mux(packet)

    def close(self) -> None:
        for packet in self.stream.encode(None):
            self.sink.mux(packet)


def _frames_and_audio(
    av, container, video, audio, start, duration, source, turns: int = 0
) -> Iterator[tuple[str, Any, Any]]:
    """The chosen part in file order: ``("frame", seconds from start, RGB array turned upright)`` and
    ``("audio", packet, None)``, so sound and picture are written interleaved as they were read."""
    nominal = 1 / float(video.average_rate or 25)
    previous = None
    end = None if duration is None else start + duration
    streams = [video] if audio is None else [video, audio]
    if start > 0:
        container.seek(int(start / float(video.time_base)), stream=video, backward=True)
    try:
        for packet in container.demux(*streams):
            if packet.stream.type == "audio":
                seconds = None if packet.pts is None else float(packet.pts * packet.time_base)
                # from the first second every packet goes (an encoder's priming packets have negative times)
                if seconds is not None and (start == 0 or seconds >= start) and (end is None or seconds < end):
                    yield "audio", packet, None
                continue
            for frame in packet.decode():
                if frame.pts is not None:
                    seconds = float(frame.pts * frame.time_base)
                else:  # no timestamp: one nominal frame after the last
                    seconds = 0.0 if previous is None else previous + nominal
                previous = seconds
                if seconds + 1e-6 < start:
                    continue
                if end is not None and seconds >= end - 1e-6:
                    return
                rgb = frame.to_ndarray(format="rgb24")
                yield "frame", seconds - start, np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb
    except av.error.FFmpegError as exc:
        raise InputError(f"{source}: the video is damaged or cut short ({_reason(exc)})") from None


class _FaceFinder:
    """Each frame's followed faces: a whole-frame detection every ``detect_every`` frames, after a scene cut
    and whenever a face was lost; in between, each face is detected again only near where it was."""

    def __init__(self, translator: Translator, tracker: FaceTracker, detect_every: int) -> None:
        self.translator, self.tracker, self.detect_every = translator, tracker, detect_every
        local = isinstance(translator.detector, LocalDetector) and detect_every > 1
        self.detector = translator.detector if local else None
        self.since_whole, self.previous = detect_every, None

    def __call__(self, rgb: np.ndarray, when: float, frame: int) -> list:
        if is_scene_cut(self.previous, rgb):
            self.tracker.reset()
            self.since_whole = self.detect_every
        self.previous = rgb
        detections = None
        if self.detector is not None and self.since_whole < self.detect_every and self.tracker.tracks:
            found = [self.detector.detect_near(rgb, track.face) for track in self.tracker.tracks]
            if all(face is not None for face in found):
                detections = found
        if detections is None:  # due, nothing followed yet, or a face was lost: search the whole frame
            detections, self.since_whole = self.translator.detector.detect(rgb), 0
        self.since_whole += 1
        if self.translator.max_faces is not None:
            detections = sorted(detections, key=lambda f: f.size, reverse=True)[: self.translator.max_faces]
        return self.tracker.update(detections, when, frame)


def _translate_frames(translator, frames, writer, summary, find_faces: _FaceFinder, expected, on_frame) -> float | None:
    """Draw and write every frame; return the last frame's time (seconds from the start), None for none."""
    seconds = {"decode": 0.0, "detect": 0.0, "stylize": 0.0, "encode": 0.0}
    last = None
    clock = time.perf_counter()
    for kind, item, rgb in frames:
        if kind == "audio":
            writer.write_audio(item)
            continue
        seconds["decode"] += time.perf_counter() - clock
        clock = time.perf_counter()
        tracks = find_faces(rgb, item, summary.frames)
        faces = [track.face for track in tracks]
        summary.tracks.append([(track.identity, track.face.landmarks.copy()) for track in tracks])
        seconds["detect"] += time.perf_counter() - clock
        clock = time.perf_counter()
        drawn = _draw_faces(translator, rgb, faces)
        seconds["stylize"] += time.perf_counter() - clock
        clock = time.perf_counter()
        writer.write_frame(drawn, item)
        last = item if last is None else max(last, item)
        seconds["encode"] += time.perf_counter() - clock
        summary.frames += 1
        summary.faces_per_frame.append(len(faces))
        if on_frame is not None:
            on_frame(summary.frames, expected)
        clock = time.perf_counter()
    summary.seconds.update(seconds)
    return last


def _draw_faces(translator, rgb: np.ndarray, faces) -> np.ndarray:
    if not faces:
        return rgb
    prepared = translator.align(LoadedImage(rgb), faces)
    return translator.compose(prepared, translator.stylize(prepared.crops)).image
