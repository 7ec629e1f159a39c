"""The ``gpdface`` command line (typer + rich).

Exit codes: 0 ok · 1 error · 2 usage · 3 no face found · 4 weights missing or corrupt. An error is one
line on stderr; ``--debug`` adds the traceback. Heavy modules (torch, facexlib) load inside the
commands, so ``gpdface --help`` stays fast.
"""

from __future__ import annotations

import glob
import json
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from . import __version__
from .errors import GpdfaceError, InputError, UsageError
from .formats import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from .output_plan import plan_outputs

app = typer.Typer(
    name="gpdface",
    help="Few-shot face image translation: translate the faces in photos into a style, or make a new style.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# The registry's DEFAULT_TEACHER, written out so that the CLI starts without importing torch (a test keeps them equal).
DEFAULT_TEACHER_NAME = "lfw64"

# soft_wrap: lines are never broken at the console's width, so piped output and logs stay one line per message.
err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped or redirected output is not wrapped (grep and logs see whole lines, tables whole rows).
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 1000)
_state = {"debug": False}
LOSSY_NO_ALPHA = {".jpg", ".jpeg"}
T = TypeVar("T")


# The Python API's errors name its arguments; on the command line the same remedy is a flag.
_API_TO_FLAG = {"aligned=True": "--aligned", "overwrite=True": "--overwrite"}


def cli_message(exc: BaseException) -> str:
    """An error's one line, with the API's argument names replaced by the command line's flags."""
    text = str(exc) if isinstance(exc, GpdfaceError) else f"unexpected {type(exc).__name__}: {exc}"
    for argument, flag in _API_TO_FLAG.items():
        text = text.replace(argument, flag)
    return text


def fail(exc: BaseException) -> typer.Exit:
    """Print one error line (and the traceback with --debug); return the Exit to raise."""
    if _state["debug"]:
        err.print("".join(traceback.format_exception(exc)), markup=False)
    code = exc.exit_code if isinstance(exc, GpdfaceError) else 1
    message = cli_message(exc)
    hint = "" if _state["debug"] or isinstance(exc, GpdfaceError) else " (run with --debug for the traceback)"
    err.print(f"[bold red]error:[/] {message}{hint}", soft_wrap=True)
    return typer.Exit(code)


def guarded(body: Callable[[], T]) -> T:
    """Run a command body, turning errors into one line and an exit code."""
    try:
        return body()
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    except Exception as exc:
        raise fail(exc) from None


def _version(value: bool) -> None:
    if value:
        out.print(f"gpdface {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _state["debug"] = debug


def expand_inputs(items: list[str]) -> list[Path]:
    """Files as given, folders as the images inside them (sorted), glob patterns expanded; a file named
    twice (directly, by its folder or by a pattern) is translated once."""
    paths: list[Path] = []
    for item in items:
        path = Path(item).expanduser()
        if path.is_dir():
            readable = IMAGE_SUFFIXES | VIDEO_SUFFIXES
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in readable)
            if not found:
                raise InputError(f"{path}: the folder holds no images or videos ({', '.join(sorted(readable))})")
            paths += found
        elif any(ch in item for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
            if not matches:
                raise InputError(f"{item}: the pattern matches no file")
            paths += matches
        elif path.exists():
            paths.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    unique: dict[Path, Path] = {}
    for path in paths:
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


def _check_translate_options(
    device: str, output: str | None, background: str | None, max_faces: int | None, batch_size: int, detector: str
) -> None:
    """Usage errors (exit 2) that name the flag, before any weights are loaded."""
    from .background import BACKGROUND_MODES
    from .face.detect import runnable_detectors
    from .output_plan import OUTPUT_MODES

    def one_of(flag: str, value: str, choices) -> None:
        if value not in choices:
            raise UsageError(f"{flag} must be one of {', '.join(choices)}, not {value!r}")

    if output is not None:
        one_of("--output", output, OUTPUT_MODES)
    if background is not None:
        one_of("--background", background, BACKGROUND_MODES)
    one_of("--detector", detector, runnable_detectors())
    if device not in ("auto", "cpu", "cuda") and not (device.startswith("cuda:") and device[5:].isdigit()):
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, not {device!r}")
    if max_faces is not None and max_faces < 1:
        raise UsageError(f"--max-faces must be at least 1, not {max_faces}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")


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
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    output: Annotated[
        str | None, typer.Option("--output", help="paste, crop or both (default: the style's choice).")
    ] = None,
    background: Annotated[
        str | None,
        typer.Option(help="Around the faces: keep, grey, pencil, student or paper (default: the style's choice)."),
    ] = None,
    max_faces: Annotated[int | None, typer.Option(help="Translate at most N faces per image, largest first.")] = None,
    aligned: Annotated[bool, typer.Option(help="Inputs are aligned face crops: skip detection.")] = False,
    batch_size: Annotated[int, typer.Option(help="Face crops per forward pass.")] = 8,
    threshold: Annotated[float, typer.Option(help="Minimum detector confidence.")] = 0.8,
    min_face: Annotated[float, typer.Option(help="Minimum face size in pixels.")] = 16.0,
    scan_face: Annotated[
        float,
        typer.Option(
            help="Detection is first sized for faces this large (px); smaller ones are looked for only when none "
            "is found. 0: search every image at full detail (slower; finds small faces beside large ones)."
        ),
    ] = 40.0,
    detector: Annotated[
        str, typer.Option(help="Face detector: retinaface_mobile0.25 (the one with pinned weights).")
    ] = "retinaface_mobile0.25",
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
    ] = 10,
    backend: Annotated[
        str, typer.Option(help="The student's runtime: torch, or onnxruntime (the onnx extra).")
    ] = "torch",
) -> None:
    """Translate every face in the given photos and videos into a style."""
    code = guarded(
        lambda: _translate(
            inputs,
            out_arg,
            style,
            device,
            output,
            background,
            max_faces,
            aligned,
            batch_size,
            threshold,
            min_face,
            scan_face,
            detector,
            overwrite,
            as_json,
            _VideoOptions(start, duration, detect_every),
            backend,
        )
    )
    raise typer.Exit(code)


def _translate(
    inputs: list[str],
    out_arg: Path | None,
    style: str,
    device: str,
    output: str | None,
    background: str | None,
    max_faces: int | None,
    aligned: bool,
    batch_size: int,
    threshold: float,
    min_face: float,
    scan_face: float,
    detector: str,
    overwrite: bool,
    as_json: bool,
    video: _VideoOptions,
    backend: str = "torch",
) -> int:
    from .translator import BACKENDS, Translator

    _check_translate_options(device, output, background, max_faces, batch_size, detector)
    if backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if scan_face < 0:
        raise UsageError(f"--scan-face must be 0 (full detail) or a size in pixels, not {scan_face:g}")
    sources = expand_inputs(inputs)
    many = len(sources) > 1
    file_like = out_arg is not None and out_arg.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
    if many and file_like and not out_arg.is_dir():
        raise UsageError(f"{len(sources)} inputs need an output folder, but -o {out_arg} looks like a file")
    translator = Translator(
        style,
        device=device,
        max_faces=max_faces,
        output=output,
        background=background,
        batch_size=batch_size,
        threshold=threshold,
        min_face=min_face,
        scan_face=scan_face or None,
        detector=detector,
        backend=backend,
    )
    plans = plan_outputs(sources, out_arg, translator.style.name, translator.output)
    if not aligned:
        translator.detector  # noqa: B018 — its weights resolve now: a missing file is one error, not one per image
    run = _Run(translator, {plan.source: plan.target for plan in plans}, many, overwrite, aligned)
    videos = [p for p in sources if p.suffix.lower() in VIDEO_SUFFIXES]
    images = [p for p in sources if p.suffix.lower() not in VIDEO_SUFFIXES]
    if (video.start or video.duration is not None) and not videos:
        raise UsageError("--start and --duration cut videos; none of the inputs is one")
    if video.detect_every < 1:
        raise UsageError(f"--detect-every must be 1 or more frames, not {video.detect_every}")
    if images:
        _translate_images(run, images, as_json)
    for source in videos:
        _translate_one_video(run, source, video, as_json)
    if as_json:
        summary = {"style": translator.style.name, "device": str(translator.device), "results": run.records}
        print(json.dumps(summary, indent=2))
    if not run.codes:
        return 0
    if many:
        err.print(f"{len(run.codes)} of {len(sources)} input(s) failed")
    return run.codes[0] if len(set(run.codes)) == 1 else 1


@dataclass
class _Run:
    """One translate command's shared settings and what it has done so far."""

    translator: Any
    targets: dict[Path, Path]  # each input's planned output (gpdface.output_plan)
    many: bool
    overwrite: bool
    aligned: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    codes: list[int] = field(default_factory=list)

    def failed(self, record: dict[str, Any], exc: GpdfaceError) -> None:
        """Record a per-input error; with one input it ends the command."""
        record.update(error=cli_message(exc), exit_code=exc.exit_code)
        self.codes.append(exc.exit_code)
        self.records.append(record)
        if not self.many:
            raise exc
        err.print(f"[yellow]skipped[/] {cli_message(exc)}", soft_wrap=True)


def _translate_images(run: _Run, sources: list[Path], as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    translator = run.translator
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=len(sources) < 2) as progress:
        task = progress.add_task("translating", total=len(sources))
        for source, result in translator.translate_many(sources, aligned=run.aligned):
            record: dict[str, Any] = {"source": str(source)}
            progress.advance(task)
            try:
                if isinstance(result, Exception):
                    raise result
                target = run.targets[source]
                _warn_about_image(source, target, result, run.aligned)
                written = result.save(target, overwrite=run.overwrite)
            except GpdfaceError as exc:
                run.failed(record, exc)
                continue
            record.update(result.to_dict(), outputs=[str(p) for p in written])
            run.records.append(record)
            if not as_json:
                err.print(f"{source} → {', '.join(map(str, written))} ({len(result.faces)} face(s))")


def _warn_about_image(source: Path, target: Path, result, aligned: bool) -> None:
    height, width = result.image.shape[:2]
    if aligned and abs(width - height) > 0.05 * max(width, height):
        err.print(f"[yellow]warning:[/] {source} is {width}×{height}, not a square aligned face crop; "
                  "without --aligned its faces would be found and aligned", soft_wrap=True)  # fmt: skip
    if result.alpha is not None and target.suffix.lower() in LOSSY_NO_ALPHA and result.output != "crop":
        err.print(f"[yellow]warning:[/] {target.name}: JPEG has no transparency; the input's alpha is "
                  "dropped (write .png or .webp to keep it)", soft_wrap=True)  # fmt: skip


@dataclass(frozen=True)
class _VideoOptions:
    """What ``translate`` does with videos: the part to translate, how often whole frames are searched."""

    start: float
    duration: float | None
    detect_every: int


def _translate_one_video(run: _Run, source: Path, video: _VideoOptions, as_json: bool) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    record: dict[str, Any] = {"source": str(source)}
    target = run.targets[source]
    try:
        if target.suffix.lower() not in VIDEO_SUFFIXES:
            raise UsageError(f"{source} is a video: write it to a video file (-o out.mp4), not {target.name}")
        if target.exists() and target.resolve() == source.resolve() and not run.overwrite:
            raise UsageError(f"{target} is the input file; choose another output or pass --overwrite")
        columns = (TextColumn(f"{source.name}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[fps]} frames/s"), TimeRemainingColumn())  # fmt: skip
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("video", total=None, fps="–")
            began = time.perf_counter()

            def advance(done: int, expected: int | None) -> None:
                rate = done / max(time.perf_counter() - began, 1e-9)
                progress.update(task, completed=done, total=expected, fps=f"{rate:.1f}")

            summary = run.translator.translate_video(
                source, target, video.start, video.duration, on_frame=advance, detect_every=video.detect_every
            )
    except GpdfaceError as exc:
        run.failed(record, exc)
        return
    record.update(summary.to_dict(), outputs=[str(target)])
    run.records.append(record)
    for warning in summary.warnings:
        err.print(f"[yellow]warning:[/] {warning}", soft_wrap=True)
    if not as_json:
        fps = summary.frames / max(summary.seconds.get("total", 0), 1e-9)
        err.print(f"{source} → {target} ({summary.frames} frames, {fps:.1f} frames/s, {summary.codec})")


@app.command()
def styles(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    gallery: Annotated[
        Path | None,
        typer.Option(help="Write a contact sheet: each --photo, then it through every style available offline."),
    ] = None,
    photo: Annotated[list[Path] | None, typer.Option(help="A photo for the --gallery (repeatable).")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda (for --gallery).")] = "auto",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --gallery file.")] = False,
) -> None:
    """List embedded, user and published styles: description, licence, what each was made from, offline or not."""

    def body() -> None:
        from .style import list_styles

        rows = list_styles()
        if gallery is not None:
            _write_gallery(gallery, photo or [], [r for r in rows if r.available], device, overwrite)
        elif photo:
            raise UsageError("--photo is for --gallery OUT: give the sheet's file too")
        elif as_json:
            fields = ("name", "origin", "description", "license", "made_from", "available")
            listing = [{f: getattr(r, f) for f in fields} | {"path": str(r.path) if r.path else None} for r in rows]
            print(json.dumps(listing, indent=2))
        else:
            _print_styles(rows)

    guarded(body)


def _print_styles(rows) -> None:
    from rich.table import Table

    if not rows:
        out.print("no styles yet: make one with `gpdface finetune` or download one with `gpdface download`")
        return
    table = Table("style", "origin", "offline", "description", "made from", "licence")
    for r in rows:
        offline = "yes" if r.available else "no (gpdface download)"
        table.add_row(r.name, r.origin, offline, r.description, r.made_from, r.license)
    out.print(table)


def _write_gallery(path: Path, photos: list[Path], rows, device: str, overwrite: bool) -> None:
    from .gallery import style_gallery
    from .imageio import write_image

    if not photos:
        raise UsageError("--gallery needs at least one --photo to show the styles on")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if any(path.resolve() == p.resolve() for p in photos):
        raise UsageError(f"{path} is one of the photos; write the gallery elsewhere")
    result = style_gallery(photos, [r.path for r in rows], device=device, on_style=lambda n: err.print(f"  {n}"))
    for name, reason in result.skipped.items():
        err.print(f"[yellow]left off the gallery:[/] {name}: {reason}")
    write_image(path, result.sheet)
    out.print(f"{len(result.styles)} style(s) on {len(photos)} photo(s) written to {path}")


@app.command()
def download(
    names: Annotated[
        list[str] | None, typer.Argument(help="Styles, detectors or teachers (default: what translate needs).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Download again even when cached.")] = False,
) -> None:
    """Fetch weights now (checked by sha256) so that gpdface works offline later."""

    def body() -> None:
        from .hub import fetch_entry
        from .manifest import KINDS, load_manifest

        manifest = load_manifest()
        wanted = names or ["retinaface_mobile0.25", *manifest.styles]
        for name in wanted:
            entries = [manifest.section(k)[name] for k in KINDS if name in manifest.section(k)]
            if not entries:
                if name in _local_style_names():
                    out.print(f"{name}: a local style, nothing to download")
                    continue
                known = sorted(n for k in KINDS for n in manifest.section(k))
                raise UsageError(f"{name!r} is not in the weights manifest; known: {', '.join(known)}")
            for entry in entries:
                if entry.kind == "teachers":  # teachers may need a conversion step: build one to fetch it
                    from .train.teachers import load_teacher

                    teacher = load_teacher(name)
                    out.print(f"teacher {name}: ready ({teacher.resolution} px)")
                    continue
                if entry.source is None:
                    out.print(f"{name}: embedded in the package, nothing to download")
                    continue
                paths = fetch_entry(entry, force=force)
                out.print(
                    f"{entry.kind[:-1]} {name}: {len(paths)} file(s) verified in {next(iter(paths.values())).parent}"
                )

    guarded(body)


def _local_style_names() -> set[str]:
    from .style import list_styles

    return {row.name for row in list_styles() if row.origin != "published"}


export_app = typer.Typer(help="Export a style's student for other runtimes.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("onnx")
def export_onnx(
    style: Annotated[str, typer.Option("--style", "-s", help="Style name or style folder.")] = "sketch",
    out_file: Annotated[
        Path | None, typer.Option("-o", "--out", help="The .onnx file (default: <style>.onnx).")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing file.")] = False,
    detector: Annotated[
        bool, typer.Option("--detector", help="Export the face detector (RetinaFace) instead of a student.")
    ] = False,
) -> None:
    """Export the style's student (or the face detector) to ONNX, checked against PyTorch to 1e-3."""

    def body() -> None:
        from .onnx_export import export_detector_onnx, export_student_onnx
        from .style import load_style

        if detector:
            target = out_file or Path("retinaface.onnx")
            if target.exists() and not overwrite:
                raise UsageError(f"{target} exists; pass --overwrite to replace it")
            export_detector_onnx(target)
            out.print(
                f"the face detector written to {target} (input 'image': 1×3×H×W BGR minus the means 104, 117, "
                "123; outputs 'boxes', 'scores', 'landmarks' against RetinaFace's anchors)"
            )
            return
        loaded = load_style(style)
        target = out_file or Path(f"{loaded.name}.onnx")
        if target.exists() and not overwrite:
            raise UsageError(f"{target} exists; pass --overwrite to replace it")
        export_student_onnx(loaded, target)
        out.print(f"{loaded.name}'s student written to {target} (input 'image', output 'drawing': B×3×H×W "
                  f"in [-1, 1], H and W multiples of {2 ** (len(loaded.model.config.channels) - 1)})")  # fmt: skip

    guarded(body)


@app.command()
def demo(
    port: Annotated[int | None, typer.Option(help="Port on 127.0.0.1 (default: the first free from 7860).")] = None,
    photos: Annotated[
        Path | None,
        typer.Option(
            help="Folder of real face photos that styles made in the page learn from (finetune's --photos; "
            "default: the pinned face bank)."
        ),
    ] = None,
    steps: Annotated[int, typer.Option(help="Distillation steps of a style made in the page.")] = 300,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Start the web demo on 127.0.0.1: translate photos, make a style from a few exemplars (the demo extra)."""

    def body() -> None:
        import importlib.util

        if importlib.util.find_spec("gradio") is None:
            raise UsageError('the demo needs Gradio: pip install "gpdface[demo]"')
        if photos is not None and not photos.is_dir():
            raise InputError(f"--photos {photos}: no such folder")
        if steps < 1:
            raise UsageError("--steps must be at least 1")
        from .demo import DemoSettings, launch
        from .translator import pick_device

        pick_device(device)  # a bad --device fails here, in one line, not in the page
        launch(DemoSettings(device=device, photos_dir=photos, steps=steps), port=port)

    guarded(body)


@app.command()
def doctor() -> None:
    """Show versions, devices, cache folders and the state of every weights entry."""

    def body() -> None:
        import importlib.metadata as md
        import platform

        import torch
        from rich.table import Table

        from .hub import cached_file, gpdface_home, hf_cache_dir, is_offline, weights_path_dirs
        from .manifest import KINDS, load_manifest, manifest_path
        from .style import embedded_styles_dir, user_styles_dir

        table = Table("item", "value", show_header=False)
        table.add_row("gpdface", __version__)
        table.add_row("python", platform.python_version())
        for pkg in ("torch", "torchvision", "facexlib", "numpy", "opencv-python", "huggingface-hub", "safetensors"):
            try:
                table.add_row(pkg, md.version(pkg))
            except md.PackageNotFoundError:
                table.add_row(pkg, "[red]not installed[/]")
        cuda = torch.cuda.is_available()
        devices = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())) if cuda else "none"
        table.add_row("CUDA devices", devices)
        table.add_row("CPU threads", str(torch.get_num_threads()))
        table.add_row("GPDFACE_HOME", str(gpdface_home()))
        table.add_row("user styles", str(user_styles_dir()))
        table.add_row("embedded styles", str(embedded_styles_dir()))
        table.add_row("Hugging Face cache", str(hf_cache_dir()))
        table.add_row("offline (HF_HUB_OFFLINE)", str(is_offline()))
        folders = weights_path_dirs()
        table.add_row(
            "GPDFACE_WEIGHTS_PATH",
            ", ".join(f"{f}{'' if f.is_dir() else ' [red](does not exist)[/]'}" for f in folders) or "not set",
        )
        table.add_row("manifest", str(manifest_path()))
        manifest = load_manifest()
        for kind in KINDS:
            for name, entry in manifest.section(kind).items():
                table.add_row(f"{kind[:-1]} {name}", _entry_state(entry, cached_file))
        out.print(table)

    guarded(body)


def _entry_state(entry, cached_file) -> str:
    from .hub import weights_path_dirs

    if entry.embedded:
        return "embedded"
    try:
        found = [cached_file(entry, f) for f in entry.files]
    except GpdfaceError as exc:
        return f"[red]{exc}[/]"
    if not all(found):
        return f"not cached (gpdface download {entry.name})"
    placed = [p for p in found if any(p.resolve().is_relative_to(d) for d in weights_path_dirs())]
    if placed:
        return f"found in GPDFACE_WEIGHTS_PATH ({placed[0].parent}), sha256 ok"
    return "cached, sha256 ok"


@app.command()
def finetune(
    name: Annotated[
        str | None, typer.Option(help="Name of the new style (default: the exemplar folder's name).")
    ] = None,
    shots: Annotated[Path | None, typer.Option(help="Folder with 1–10 stylized exemplar images.")] = None,
    pairs: Annotated[
        list[Path] | None,
        typer.Option("--pairs", help="Folder with source/ and target/ files of the same names (repeatable)."),
    ] = None,
    teacher: Annotated[
        str, typer.Option(help="Teacher GAN: a manifest name, a pretrained teacher, a checkpoint path, or none.")
    ] = DEFAULT_TEACHER_NAME,
    steps: Annotated[int, typer.Option(help="Distillation steps.")] = 300,
    adapt_steps: Annotated[int, typer.Option(help="Teacher adaptation steps.")] = 300,
    projection_steps: Annotated[int, typer.Option(help="Projection steps per exemplar batch.")] = 300,
    photos: Annotated[
        Path | None,
        typer.Option(
            help="With a teacher: a folder of real face photos (any; a few hundred or more) the student "
            "learns from, aligned once and cached (default: the pinned face bank lfw-2000, 1,744 aligned LFW "
            "faces, research use)."
        ),
    ] = None,
    photos_limit: Annotated[int, typer.Option(help="Use at most this many of the photos.")] = 2000,
    encoder_steps: Annotated[int, typer.Option(help="Steps of the encoder into the teacher's latents.")] = 1500,
    batch_size: Annotated[int, typer.Option(help="Anchor pairs per step.")] = 8,
    lr: Annotated[float, typer.Option(help="Adam learning rate of the student.")] = 1e-3,
    loss: Annotated[
        list[str] | None,
        typer.Option(
            "--loss",
            help="NAME=WEIGHT: set a loss term's weight, 0 switches it off (repeatable); terms: lowpass_l1, ssim, "
            "adversarial, feature_matching, teacher (default 10 with --shots, 1 with --pairs), relative.",
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run of the same name.")] = False,
    restart: Annotated[bool, typer.Option(help="Discard an earlier run of the same name.")] = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Style folder to write (default: the user styles folder).")
    ] = None,
    aligned: Annotated[bool, typer.Option(help="The images are aligned face crops: skip detection.")] = False,
    landmarks: Annotated[
        Path | None,
        typer.Option(
            help="JSON or CSV with five points per --shots image the detector cannot find (eyes, nose tip, mouth "
            "corners; image's left first), keyed by file name."
        ),
    ] = None,
    evaluate: Annotated[
        list[Path] | None, typer.Option("--eval", help="Pairs folders to report SSIM on at the end (repeatable).")
    ] = None,
    identity: Annotated[
        bool, typer.Option(help="Also report identity rank-1 on the --eval sets (needs the dev extra: dlib).")
    ] = False,
    description: Annotated[str, typer.Option(help="One line describing the style.")] = "",
    license_: Annotated[str, typer.Option("--license", help="Terms of the weights and of their training data.")] = "",
    default_output: Annotated[str, typer.Option(help="paste or crop: what translate writes by default.")] = "paste",
    background: Annotated[
        str,
        typer.Option(
            help="How translate renders the photo around the faces: keep, grey, pencil (its tone fitted to the "
            "exemplars), student or paper (a white page: only the drawn heads)."
        ),
    ] = "keep",
    tone: Annotated[
        str,
        typer.Option(
            help="follow: a darker face is drawn darker (pencil, paint, flat colour; the face bank's teacher "
            "targets carry each photo's tone and features); ignore: skin is drawn paper-white on everyone "
            "(ink, line art)."
        ),
    ] = "follow",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing style folder.")] = False,
    push_to_hub: Annotated[
        str | None, typer.Option(help="Upload the style to this Hub repository and print its manifest entry.")
    ] = None,
) -> None:
    """Make a new style from 1–10 exemplars (--shots) or exemplar pairs (--pairs) by GAN prior distillation.

    Time on 2 CPU cores at the defaults (--shots, 300 steps): about 9 min, a first run on a --photos folder
    included (it aligns the face bank and trains the teacher's encoder once, about 3 min; both are cached);
    about 1 min per further 50 steps. On one GPU (an H200): about 1 min, first run included. Interrupted
    runs continue with --resume.
    """

    def body() -> None:
        from .style import read_style_info
        from .train.pipeline import FinetuneRequest, run_finetune

        request = FinetuneRequest(
            name=name,
            pair_dirs=pairs or [],
            shots_dir=shots,
            teacher=teacher,
            steps=steps,
            adapt_steps=adapt_steps,
            projection_steps=projection_steps,
            photos_dir=photos,
            photos_limit=photos_limit,
            encoder_steps=encoder_steps,
            batch_size=batch_size,
            lr=lr,
            weights=parse_loss_weights(loss or []),
            device=device,
            seed=seed,
            resume=resume,
            restart=restart,
            out=out_dir,
            aligned=aligned,
            landmarks_file=landmarks,
            eval_dirs=evaluate or [],
            identity=identity,
            description=description,
            license=license_,
            default_output=default_output,
            background=background,
            tone=tone,
            overwrite=overwrite,
            command=shlex.join(["gpdface", *sys.argv[1:]]),
        )
        style_dir = run_finetune(request, console=err)
        made = read_style_info(style_dir).name
        out.print(f"style {made!r} written to {style_dir}; use it with: gpdface translate PHOTO --style {made}")
        if push_to_hub:
            from .train.export import manifest_entry
            from .train.export import push_to_hub as push

            revision = push(style_dir, push_to_hub)
            entry = manifest_entry(style_dir, read_style_info(style_dir), push_to_hub, revision)
            err.print(f'pushed to {push_to_hub} at {revision}; add this to weights_manifest.json under "styles":')
            print(json.dumps(entry, indent=2))

    guarded(body)


def parse_loss_weights(items: list[str]) -> dict[str, float]:
    """``["adversarial=0", "lowpass_l1=5"]`` → ``{"adversarial": 0.0, "lowpass_l1": 5.0}`` (``--loss``; the
    quality benchmark parses its own ``--loss`` with it too)."""
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(f"--loss {item!r}: expected NAME=WEIGHT, e.g. --loss adversarial=0")
    return weights


@app.command("pretrain-teacher")
def pretrain_teacher(
    faces_dir: Annotated[Path, typer.Argument(help="Folder of real face photos (searched recursively).")],
    name: Annotated[str, typer.Option(help="Name of the teacher, for finetune --teacher NAME.")],
    resolution: Annotated[int, typer.Option(help="64 or 128.")] = 64,
    width: Annotated[int, typer.Option(help="Generator width (channels of its last layer).")] = 48,
    kimg: Annotated[float, typer.Option(help="Thousands of real images shown in all: the length of training.")] = 200,
    batch_size: Annotated[int, typer.Option(help="Images per step.")] = 64,
    holdout: Annotated[int, typer.Option(help="Photos (whole identities) kept out for the checks.")] = 500,
    min_score: Annotated[float, typer.Option(help="Detection score a face needs to count.")] = 0.9,
    augment: Annotated[bool, typer.Option(help="DiffAugment before the discriminator.")] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    work: Annotated[
        Path | None, typer.Option(help="Run folder: aligned cache and checkpoints (resumed when present).")
    ] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Teacher folder to write.")] = None,
    license_: Annotated[str, typer.Option("--license", help="Terms of the training photos.")] = "",
    overwrite: Annotated[bool, typer.Option(help="Replace an existing teacher folder.")] = False,
) -> None:
    """Pretrain a teacher GAN on a folder of real face photos (aligned, cached and resumable)."""

    def body() -> None:
        from .train.pretrain import PretrainConfig
        from .train.teacher_pipeline import PretrainRequest, run_pretrain

        if resolution not in (64, 128):
            raise UsageError(f"--resolution must be 64 or 128, not {resolution}")
        config = PretrainConfig(
            resolution=resolution, width=width, kimg=kimg, batch_size=batch_size, augment=augment, seed=seed
        )
        request = PretrainRequest(
            faces_dir=faces_dir, name=name, config=config, holdout=holdout, min_score=min_score, work=work,
            out=out_dir, license=license_, overwrite=overwrite, command=shlex.join(["gpdface", *sys.argv[1:]]),
        )  # fmt: skip
        folder = run_pretrain(request, console=err)
        out.print(f"teacher {name!r} written to {folder}; use it with: gpdface finetune --teacher {name} …")

    guarded(body)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
