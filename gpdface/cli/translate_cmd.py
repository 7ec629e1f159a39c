"""``gpdface translate``: flags → ``TranslateOptions`` → ``gpdface.translate_run`` with a console."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..options import DETECT_EVERY, TranslateOptions, VideoOptions
from .base import app, err, guarded, say

_T = TranslateOptions()


class ConsoleEvents:
    """A run shown on stderr: a progress bar for many images or a video, one line per result."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet  # --json: results go to stdout as JSON, not as lines

    @contextmanager
    def images(self, total: int) -> Iterator[Callable[[], None]]:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err, transient=True, disable=total < 2) as progress:
            task = progress.add_task("translating", total=total)
            yield lambda: progress.advance(task)

    @contextmanager
    def video(self, source: Path) -> Iterator[Callable[[int, int | None, float], None]]:
        columns = (TextColumn("{task.fields[name]}", markup=False), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[fps]} frames/s"), TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("video", total=None, fps="–", name=source.name)
            yield lambda done, expected, rate: progress.update(task, completed=done, total=expected, fps=f"{rate:.1f}")

    def translated(self, source: Path, outputs: list[Path], detail: str) -> None:
        if not self.quiet:
            err.print(f"{source} → {', '.join(map(str, outputs))} ({detail})", markup=False)

    def skipped(self, message: str) -> None:
        say("skipped", "yellow", message)

    def warning(self, message: str) -> None:
        say("warning", "yellow", message)


@app.command()
def translate(
    inputs: Annotated[list[str], typer.Argument(help="Image files, folders or glob patterns.", show_default=False)],
    out_arg: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", help="Output file (one input) or folder. Default: <name>_<style> beside each input."
        ),
    ] = None,
    style: Annotated[str, typer.Option("--style", "-s", help="Style name or style folder.")] = "sketch",
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = _T.device,
    output: Annotated[
        str | None, typer.Option("--output", help="paste, crop or both (default: the style's choice).")
    ] = _T.output,
    background: Annotated[
        str | None,
        typer.Option(help="Around the faces: keep, grey, pencil, student or paper (default: the style's choice)."),
    ] = _T.background,
    max_faces: Annotated[
        int | None, typer.Option(help="Translate at most N faces per image, largest first.")
    ] = _T.max_faces,
    aligned: Annotated[bool, typer.Option(help="Inputs are aligned face crops: skip detection.")] = False,
    batch_size: Annotated[int, typer.Option(help="Face crops per forward pass.")] = _T.batch_size,
    threshold: Annotated[float, typer.Option(help="Minimum detector confidence.")] = _T.threshold,
    min_face: Annotated[float, typer.Option(help="Minimum face size in pixels.")] = _T.min_face,
    scan_face: Annotated[
        float,
        typer.Option(
            help="Detection is first sized for faces this large (px); smaller ones are looked for only when none "
            "is found. 0: search every image at full detail (slower; finds small faces beside large ones)."
        ),
    ] = _T.scan_face or 0.0,
    detector: Annotated[
        str, typer.Option(help="Face detector: retinaface_mobile0.25 (the one with pinned weights).")
    ] = _T.detector,
    overwrite: Annotated[bool, typer.Option(help="Allow an output to replace its input file.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary on stdout.")] = False,
    start: Annotated[float, typer.Option(help="Videos: start this many seconds in.")] = 0.0,
    duration: Annotated[float | None, typer.Option(help="Videos: translate only this many seconds.")] = None,
    detect_every: Annotated[
        int,
        typer.Option(
            help="Videos: search the whole frame for faces every N frames (and after a cut or a lost face); "
            "in between, only near each face. 1: every frame whole (slower)."
        ),
    ] = DETECT_EVERY,
    backend: Annotated[
        str, typer.Option(help="The student's runtime: torch, or onnxruntime (the onnx extra).")
    ] = _T.backend,
) -> None:
    """Translate every face in the given photos and videos into a style."""

    def body() -> int:
        from ..translate_run import TranslateJob, run_translate

        options = TranslateOptions(
            device=device, output=output, background=background, max_faces=max_faces,  # type: ignore[arg-type]
            batch_size=batch_size, threshold=threshold, min_face=min_face,
            scan_face=scan_face or None,  # 0 on the command line: full detail
            detector=detector, backend=backend,  # type: ignore[arg-type]
        )  # fmt: skip
        video = VideoOptions(start=start, duration=duration, detect_every=detect_every)
        job = TranslateJob(tuple(inputs), style, out_arg, options, video, aligned, overwrite)
        report = run_translate(job, ConsoleEvents(quiet=as_json))
        if as_json:
            print(json.dumps(report.to_dict(), indent=2))
        if report.codes and report.inputs > 1:
            err.print(f"{len(report.codes)} of {report.inputs} input(s) failed")
        return report.exit_code

    raise typer.Exit(guarded(body))
