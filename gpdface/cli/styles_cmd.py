"""``gpdface styles``, ``download``, ``export onnx``, ``doctor`` and ``demo``: around styles and weights."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from .. import __version__
from ..errors import GpdfaceError, InputError, UsageError
from ..recipe import FinetuneRecipe
from .base import app, debugging, err, guarded, out, say

_R = FinetuneRecipe()


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
        from ..style import list_styles

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
        table.add_row(*(Text(v) for v in (r.name, r.origin, offline, r.description, r.made_from, r.license)))
    out.print(table)


def _write_gallery(path: Path, photos: list[Path], rows, device: str, overwrite: bool) -> None:
    from ..gallery import style_gallery
    from ..imageio import write_image

    if not photos:
        raise UsageError("--gallery needs at least one --photo to show the styles on")
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; pass --overwrite to replace it")
    if any(path.resolve() == p.resolve() for p in photos):
        raise UsageError(f"{path} is one of the photos; write the gallery elsewhere")
    result = style_gallery(photos, [r.path for r in rows], device=device, on_style=lambda n: err.print(f"  {n}"))
    for name, reason in result.skipped.items():
        say("left off the gallery", "yellow", f"{name}: {reason}")
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
        from ..hub import fetch_entry
        from ..manifest import KINDS, load_manifest

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
                    from ..train.teachers import load_teacher

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
    from ..style import list_styles

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
        from ..onnx_export import export_detector_onnx, export_student_onnx
        from ..style import load_style

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
    steps: Annotated[
        int, typer.Option(help=f"Distillation steps of a style made in the page (default {_R.steps}).")
    ] = FinetuneRecipe.steps,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Start the web demo on 127.0.0.1: translate photos, make a style from a few exemplars (the demo extra)."""

    def body() -> None:
        import importlib.util

        if importlib.util.find_spec("gradio") is None:
            raise UsageError('the demo needs Gradio: pip install "gpdface[demo]"')
        if photos is not None and not photos.is_dir():
            raise InputError(f"--photos {photos}: no such folder")
        from ..demo import DemoSettings, launch
        from ..translator import pick_device

        pick_device(device)  # a bad --device fails here, in one line, not in the page
        settings = DemoSettings(device=device, photos_dir=photos, recipe=FinetuneRecipe(steps=steps), debug=debugging())
        launch(settings, port=port)

    guarded(body)


@app.command()
def doctor() -> None:
    """Show versions, devices, cache folders and the state of every weights entry."""

    def body() -> None:
        import importlib.metadata as md
        import platform

        import torch
        from rich.table import Table

        from ..hub import cached_file, gpdface_home, hf_cache_dir, is_offline, weights_path_dirs
        from ..manifest import KINDS, load_manifest, manifest_path
        from ..style import embedded_styles_dir, user_styles_dir

        table = Table("item", "value", show_header=False)
        table.add_row("gpdface", __version__)
        table.add_row("python", platform.python_version())
        for pkg in ("torch", "torchvision", "facexlib", "numpy", "opencv-python", "huggingface-hub", "safetensors"):
            try:
                table.add_row(pkg, md.version(pkg))
            except md.PackageNotFoundError:
                table.add_row(pkg, Text("not installed", style="red"))
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
            Text(", ".join(f"{f}{'' if f.is_dir() else ' (does not exist)'}" for f in folders) or "not set"),
        )
        table.add_row("manifest", str(manifest_path()))
        manifest = load_manifest()
        for kind in KINDS:
            for name, entry in manifest.section(kind).items():
                table.add_row(f"{kind[:-1]} {name}", _entry_state(entry, cached_file))
        out.print(table)

    guarded(body)


def _entry_state(entry, cached_file) -> str | Text:
    from ..hub import weights_path_dirs

    if entry.embedded:
        return "embedded"
    try:
        found = [cached_file(entry, f) for f in entry.files]
    except GpdfaceError as exc:
        return Text(str(exc), style="red")
    if not all(found):
        return f"not cached (gpdface download {entry.name})"
    placed = [p for p in found if any(p.resolve().is_relative_to(d) for d in weights_path_dirs())]
    if placed:
        return f"found in GPDFACE_WEIGHTS_PATH ({placed[0].parent}), sha256 ok"
    return "cached, sha256 ok"
