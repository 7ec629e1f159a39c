"""A translate run: inputs expanded, every output planned, images in batches, videos one by one.

``gpdface translate`` is this module behind a console; the demo and batch engines call it too. What the
run shows while it goes (progress, one line per result, warnings) goes through ``RunEvents``, so the
library decides and the caller only displays. A bad input does not stop a run of many: its error is
recorded and the rest go on; with one input the error is raised.
"""

from __future__ import annotations

import glob
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import GpdfaceError, InputError, UsageError
from .formats import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from .options import OptionError, TranslateOptions, VideoOptions
from .output_plan import plan_outputs

if TYPE_CHECKING:
    from .translator import TranslationResult, Translator

LOSSY_NO_ALPHA = {".jpg", ".jpeg"}


@dataclass(frozen=True)
class TranslateJob:
    """One run: what to translate, into which style, where to, and how.

    Attributes:
        inputs: files, folders (their images and videos) and glob patterns.
        style: a style name or folder.
        out: ``-o``: an output file (one input) or folder; None writes ``<stem>_<style>`` beside each input.
        options: how faces are found, drawn and written.
        video: what is done with videos.
        aligned: the inputs are aligned face crops (no detection).
        overwrite: an output may replace its own input.
    """

    inputs: tuple[str, ...]
    style: str = "sketch"
    out: Path | None = None
    options: TranslateOptions = field(default_factory=TranslateOptions)
    video: VideoOptions = field(default_factory=VideoOptions)
    aligned: bool = False
    overwrite: bool = False


class RunEvents(Protocol):
    """What a caller shows while a run goes (the command line's console; nothing for a batch engine)."""

    def images(self, total: int) -> AbstractContextManager[Callable[[], None]]:
        """A progress display for ``total`` images; the callable advances it by one."""
        ...

    def video(self, source: Path) -> AbstractContextManager[Callable[[int, int | None, float], None]]:
        """A progress display for one video: called with (frames done, frames expected, frames/s)."""
        ...

    def translated(self, source: Path, outputs: list[Path], detail: str) -> None: ...

    def skipped(self, message: str) -> None: ...

    def warning(self, message: str) -> None: ...


class QuietEvents:
    """Shows nothing."""

    def images(self, total: int) -> AbstractContextManager[Callable[[], None]]:
        return nullcontext(lambda: None)

    def video(self, source: Path) -> AbstractContextManager[Callable[[int, int | None, float], None]]:
        return nullcontext(lambda done, expected, rate: None)

    def translated(self, source: Path, outputs: list[Path], detail: str) -> None:
        pass

    def skipped(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        pass


@dataclass
class RunReport:
    """What a run did: one record per input (its faces and outputs, or its error) and the exit codes."""

    style: str
    device: str
    records: list[dict[str, Any]] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)
    inputs: int = 0

    @property
    def exit_code(self) -> int:
        """0 when every input worked; the one code all failures share; 1 for a mix."""
        if not self.codes:
            return 0
        return self.codes[0] if len(set(self.codes)) == 1 else 1

    def to_dict(self) -> dict[str, Any]:
        return {"style": self.style, "device": self.device, "results": self.records}


def expand_inputs(items: list[str] | tuple[str, ...]) -> list[Path]:
    """Files as given, folders as the images and videos inside them (sorted), glob patterns expanded; a path
    that exists is a file or folder even when its name holds ``[`` or ``*``; a file named twice is taken once.

    Raises:
        InputError: a missing file, an empty folder, or a pattern that matches nothing.
    """
    paths: list[Path] = []
    readable = IMAGE_SUFFIXES | VIDEO_SUFFIXES
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in readable)
            if not found:
                raise InputError(f"{path}: the folder holds no images or videos ({', '.join(sorted(readable))})")
            paths += found
        elif path.exists():
            paths.append(path)
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            paths += matches
        else:
            raise InputError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def run_translate(job: TranslateJob, events: RunEvents | None = None) -> RunReport:
    """Translate every input of ``job``; return what happened.

    Raises:
        UsageError: contradicting options, or outputs that would collide (before anything is written).
        GpdfaceError: with a single input, its error.
    """
    from .translator import Translator

    events = events or QuietEvents()
    sources = expand_inputs(job.inputs)
    many = len(sources) > 1
    out = job.out
    if many and out is not None and out.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES and not out.is_dir():
        raise UsageError(f"{len(sources)} inputs need an output folder, but -o {out} looks like a file")
    videos = [p for p in sources if p.suffix.lower() in VIDEO_SUFFIXES]
    images = [p for p in sources if p.suffix.lower() not in VIDEO_SUFFIXES]
    if job.video.cuts and not videos:
        raise OptionError("start", "and --duration cut videos; none of the inputs is one")
    translator = Translator.from_options(job.style, job.options)
    plans = plan_outputs(sources, out, translator.style.name, translator.output)
    if not job.aligned:
        translator.detector  # noqa: B018 — its weights resolve now: a missing file is one error, not one per image
    run = _Run(translator, {plan.source: plan.target for plan in plans}, many, job, events)
    run.report.inputs = len(sources)
    if images:
        run.images(images)
    for source in videos:
        run.one_video(source)
    return run.report


@dataclass
class _Run:
    """One run's translator, planned targets and report."""

    translator: Translator
    targets: dict[Path, Path]
    many: bool
    job: TranslateJob
    events: RunEvents
    report: RunReport = field(init=False)

    def __post_init__(self) -> None:
        self.report = RunReport(self.translator.style.name, str(self.translator.device))

    def failed(self, record: dict[str, Any], exc: GpdfaceError) -> None:
        """Record a per-input error; with one input it ends the run."""
        record.update(error=str(exc), exit_code=exc.exit_code)
        self.report.codes.append(exc.exit_code)
        self.report.records.append(record)
        if not self.many:
            raise exc
        self.events.skipped(str(exc))

    def images(self, sources: list[Path]) -> None:
        translator = self.translator
        with self.events.images(len(sources)) as advance:
            for source, result in translator.translate_many(sources, aligned=self.job.aligned):
                record: dict[str, Any] = {"source": str(source)}
                advance()
                try:
                    if isinstance(result, Exception):
                        raise result
                    target = self.targets[source]
                    self._warn_about(source, target, result)
                    written = result.save(target, overwrite=self.job.overwrite)
                except GpdfaceError as exc:
                    self.failed(record, exc)
                    continue
                record.update(result.to_dict(), outputs=[str(p) for p in written])
                self.report.records.append(record)
                self.events.translated(source, written, f"{len(result.faces)} face(s)")

    def _warn_about(self, source: Path, target: Path, result: TranslationResult) -> None:
        height, width = result.image.shape[:2]
        if self.job.aligned and abs(width - height) > 0.05 * max(width, height):
            self.events.warning(
                f"{source} is {width}×{height}, not a square aligned face crop; "
                "without --aligned its faces would be found and aligned"
            )
        if result.alpha is not None and target.suffix.lower() in LOSSY_NO_ALPHA and result.output != "crop":
            self.events.warning(
                f"{target.name}: JPEG has no transparency; the input's alpha is dropped "
                "(write .png or .webp to keep it)"
            )

    def one_video(self, source: Path) -> None:
        record: dict[str, Any] = {"source": str(source)}
        target = self.targets[source]
        video = self.job.video
        try:
            if target.suffix.lower() not in VIDEO_SUFFIXES:
                raise UsageError(f"{source} is a video: write it to a video file (-o out.mp4), not {target.name}")
            if target.exists() and target.resolve() == source.resolve() and not self.job.overwrite:
                raise UsageError(f"{target} is the input file; choose another output or pass --overwrite")
            with self.events.video(source) as show:
                began = time.perf_counter()
                summary = self.translator.translate_video(
                    source, target, video.start, video.duration, detect_every=video.detect_every,
                    on_frame=lambda done, expected: show(done, expected, _rate(done, began)),
                )  # fmt: skip
        except GpdfaceError as exc:
            self.failed(record, exc)
            return
        record.update(summary.to_dict(), outputs=[str(target)])
        self.report.records.append(record)
        for warning in summary.warnings:
            self.events.warning(warning)
        fps = summary.frames / max(summary.seconds.get("total", 0), 1e-9)
        self.events.translated(source, [target], f"{summary.frames} frames, {fps:.1f} frames/s, {summary.codec}")


def _rate(done: int, began: float) -> float:
    return done / max(time.perf_counter() - began, 1e-9)
