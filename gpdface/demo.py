"""``gpdface demo``: a local web app (Gradio) to translate photos and to make a style from a few exemplars.

Install with ``pip install "gpdface[demo]"``. Everything goes through the public API: ``Translator`` for
photos, ``list_styles`` for the style list, ``gpdface.train.finetune.run_finetune`` for new styles. Each
style is loaded once and kept; a style being made runs in a background thread, so the server keeps
translating meanwhile, and its progress (the stage log and the newest sample grid) lives on the server, so
every browser tab sees it.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from .errors import GpdfaceError, InputError, NoFaceError, UsageError
from .names import check_name
from .recipe import STYLE_BACKGROUNDS, FinetuneRecipe

HOST = "127.0.0.1"
MAX_SHOTS = 10
POLL_SECONDS = 2.0


@dataclass(frozen=True)
class DemoSettings:
    """What the demo server runs with.

    Attributes:
        device: ``auto``, ``cpu`` or ``cuda`` for translation and training.
        photos_dir: the real face photos a new style learns from (``finetune --photos``); the pinned default
            face bank when None, as for ``finetune``.
        recipe: how styles made in the page are made: ``finetune``'s defaults unless told otherwise (the
            page's tone and background choices override it).
        debug: print the traceback of an error shown on the page (``gpdface --debug demo``); one line if not.
    """

    device: str = "auto"
    photos_dir: Path | None = None
    recipe: FinetuneRecipe = field(default_factory=FinetuneRecipe)
    debug: bool = False


class Translators:
    """One ``Translator`` per style, loaded on first use and kept (thread-safe)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self._loaded: dict[str, Any] = {}
        self._lock = threading.Lock()

    def get(self, style: str):
        from .translator import Translator

        with self._lock:
            if style not in self._loaded:
                self._loaded[style] = Translator(style, device=self.device)
            return self._loaded[style]


def style_names() -> list[str]:
    """Every style that can be used now (user and embedded styles, published ones already downloaded)."""
    from .style import list_styles

    return [row.name for row in list_styles() if row.available]


def translate_photo(translators: Translators, photo: str | None, style: str, output: str) -> tuple[np.ndarray, str]:
    """(picture, message) for the Translate tab: the pasted photo or the face crops side by side.

    Raises:
        InputError: no photo, an unreadable or huge file, an unknown output mode.
        GpdfaceError: the style cannot be loaded.
    """
    from .imageio import read_image

    if not photo:
        raise InputError("upload a photo first")
    if output not in ("paste", "crop"):
        raise InputError(f"output must be paste or crop, not {output!r}")
    image = read_image(photo).rgb
    try:
        result = translators.get(style)(image)
    except NoFaceError:
        return image, "No face found in this photo: nothing to translate. Try a photo where a face is clearly visible."
    count = len(result.faces)
    message = f"{count} face{'s' if count != 1 else ''} translated with `{style}`."
    if output == "crop":
        return np.hstack([face.crop for face in result.faces]), message
    return result.image, message


def preview_styles(translators: Translators, photo: str | None) -> list[tuple[np.ndarray, str]]:
    """The photo through every usable style, for the preview gallery (styles that fail are left out)."""
    from .imageio import read_image

    if not photo:
        raise InputError("upload a photo first")
    image = read_image(photo).rgb
    previews = []
    for name in style_names():
        try:
            previews.append((translators.get(name)(image).image, name))
        except NoFaceError:
            raise
        except GpdfaceError:
            continue
    return previews


@dataclass
class StyleJob:
    """A style being made: its log, its run folder (sample grids), and how it ended."""

    name: str
    run_dir: Path
    log: io.StringIO = field(default_factory=io.StringIO)
    started: float = field(default_factory=time.monotonic)
    done: bool = False
    error: str | None = None
    style_dir: Path | None = None

    def status(self) -> str:
        elapsed = time.monotonic() - self.started
        if self.error:
            state = f"failed: {self.error}"
        elif self.done:
            state = f"done in {elapsed / 60:.1f} min: pick `{self.name}` in the Translate tab"
        else:
            state = f"running for {elapsed / 60:.1f} min"
        lines = self.log.getvalue().splitlines()[-12:]
        return f"**{self.name}**: {state}\n\n```\n" + "\n".join(lines) + "\n```"

    def newest_sample(self) -> str | None:
        grids = sorted(self.run_dir.glob("samples_*.png")) or sorted(self.run_dir.glob("adapt_*.png"))
        return str(grids[-1]) if grids else None


class StyleJobs:
    """Background ``finetune`` runs, one at a time (the machine's cores are shared with translation)."""

    def __init__(self, settings: DemoSettings) -> None:
        self.settings = settings
        self.jobs: dict[str, StyleJob] = {}
        self.latest: str | None = None
        self._lock = threading.Lock()

    def start(
        self,
        name: str,
        exemplars: Sequence[str],
        landmarks: str | None,
        tone: str,
        background: str = FinetuneRecipe.background,
    ) -> StyleJob:
        """Copy the uploads into the job's folder and start ``run_finetune`` in a thread.

        Raises:
            InputError: a bad name, or not 1–10 exemplars.
            UsageError: a style is already being made.
        """
        from .hub import gpdface_home

        name = check_name((name or "").strip(), "the style name", InputError)
        if name in style_names():
            raise InputError(f"a style named {name!r} exists already; choose another name")
        if not 1 <= len(exemplars) <= MAX_SHOTS:
            raise InputError(f"give 1–{MAX_SHOTS} exemplar images, not {len(exemplars)}")
        names = [Path(path).name for path in exemplars]
        if len(set(names)) != len(names):
            raise InputError("two exemplars share a file name; rename one")
        with self._lock:
            if any(not job.done for job in self.jobs.values()):
                raise UsageError("a style is being made already; wait for it to finish")
            shots = gpdface_home() / "demo" / name
            shutil.rmtree(shots, ignore_errors=True)
            shots.mkdir(parents=True)
            for path in exemplars:  # their own names, which a landmarks file is keyed by
                shutil.copyfile(path, shots / Path(path).name)
            job = StyleJob(name, gpdface_home() / "runs" / name)
            self.jobs[name], self.latest = job, name
        landmark_file = None
        if landmarks:
            landmark_file = shots.parent / f"{name}.landmarks{Path(landmarks).suffix.lower()}"
            shutil.copyfile(landmarks, landmark_file)
        threading.Thread(target=self._run, args=(job, shots, landmark_file, tone, background), daemon=True).start()
        return job

    def _run(self, job: StyleJob, shots: Path, landmarks: Path | None, tone: str, background: str) -> None:
        from rich.console import Console

        from .train.finetune import FinetuneRequest, run_finetune

        s = self.settings
        request = FinetuneRequest(
            name=job.name,
            shots_dir=shots,
            photos_dir=s.photos_dir,
            landmarks_file=landmarks,
            recipe=s.recipe.override(tone=tone, background=background),
            device=s.device,
            overwrite=True,
            restart=True,
            command=f"gpdface demo (style {job.name!r})",
        )
        try:
            job.style_dir = run_finetune(request, console=Console(file=job.log, width=100, soft_wrap=True))
        except Exception as error:  # shown on the page; the server goes on
            job.error = str(error).splitlines()[0] if str(error) else type(error).__name__
        finally:
            job.done = True

    def view(self, name: str | None = None) -> tuple[str, str | None]:
        """(status text, newest sample grid) of the named job, or of the latest one."""
        job = self.jobs.get(name or self.latest or "")
        if job is None:
            return "No style is being made.", None
        return job.status(), job.newest_sample()


def build_demo(settings: DemoSettings | None = None):
    """The Gradio app (not launched)."""
    import gradio as gr

    settings = settings or DemoSettings()
    translators, jobs = Translators(settings.device), StyleJobs(settings)

    def page_error(error: GpdfaceError) -> Exception:
        """The error for the page, and one line on the server's console (its traceback with --debug)."""
        print(f"gpdface demo: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return gr.Error(str(error), print_exception=settings.debug)

    def on_translate(photo, style, output):
        try:
            return translate_photo(translators, photo, style, output)
        except GpdfaceError as error:
            raise page_error(error) from None

    def on_preview(photo):
        try:
            return preview_styles(translators, photo)
        except GpdfaceError as error:
            raise page_error(error) from None

    def on_make(files, landmarks, name, tone, background):
        try:
            paths = [_upload_path(f) for f in files or []]
            job = jobs.start(name, paths, _upload_path(landmarks), tone, background)
        except GpdfaceError as error:
            raise page_error(error) from None
        return job.status(), None

    def on_tick():
        status, sample = jobs.view()
        return status, sample, gr.update(choices=style_names())

    names = style_names()
    with gr.Blocks(title="gpdface") as demo:
        gr.Markdown("# gpdface\nFace photos drawn in a style by a small distilled network, on CPU or GPU.")
        with gr.Tab("Translate"):
            with gr.Row():
                photo = gr.Image(label="photo", type="filepath", sources=["upload", "webcam", "clipboard"])
                # Hand the upload's path to gpdface unopened: Gradio's own decoding turns a bad upload into a
                # ten-line error; read_image says what is wrong in one line (and applies the pixel limit).
                photo.preprocess = _upload_path
                result = gr.Image(label="result", type="numpy", format="png", interactive=False, elem_id="result")
            with gr.Row():
                first = "sketch" if "sketch" in names else (names[0] if names else None)  # the README's default
                style = gr.Dropdown(names, value=first, label="style")
                output = gr.Radio(["paste", "crop"], value="paste", label="output")
            samples = sorted(Path(str(resources.files("gpdface") / "samples")).glob("*.jpg"))
            gr.Examples([[str(p)] for p in samples], inputs=[photo], label="public-domain photos to try")
            translate = gr.Button("Translate", variant="primary", elem_id="translate")
            message = gr.Markdown()
            preview = gr.Button("Preview every style on this photo")
            previews = gr.Gallery(label="every style", columns=4, height="auto")
            translate.click(on_translate, [photo, style, output], [result, message], api_name="translate")
            preview.click(on_preview, [photo], [previews], api_name="preview")
            styles_api = gr.JSON(visible=False)
            gr.Button("styles", visible=False).click(style_names, None, styles_api, api_name="styles")
        with gr.Tab("Make a style"):
            learns_from = (
                f"the photos of `{settings.photos_dir}`"
                if settings.photos_dir is not None
                else "gpdface's pinned face bank (1,744 aligned LFW faces, research use; "
                "`gpdface demo --photos DIR` for your own)"
            )
            gr.Markdown(f"A new style learns how real faces look from {learns_from}.")
            exemplars = gr.File(label="1–10 exemplars", file_count="multiple", file_types=["image"])
            landmarks = gr.File(label="landmarks (optional: JSON or CSV)", file_types=[".json", ".csv"])
            with gr.Row():
                name = gr.Textbox(label="style name", value="mystyle")
                tone = gr.Radio(["follow", "ignore"], value="follow", label="tone (ignore: ink and line art)")
                around = gr.Radio(list(STYLE_BACKGROUNDS), value=settings.recipe.background, label="around the faces")
            make = gr.Button("Make the style", variant="primary")
            status = gr.Markdown()
            sample = gr.Image(label="newest sample grid", interactive=False)
            make.click(on_make, [exemplars, landmarks, name, tone, around], [status, sample], api_name="make_style")
            timer = gr.Timer(POLL_SECONDS)
            timer.tick(on_tick, None, [status, sample, style], api_name="progress")
    return demo.queue(default_concurrency_limit=2)


def _upload_path(upload: Any) -> str | None:
    """The server-side path of a Gradio upload (a path string, or a file object with ``.path`` or ``.name``)."""
    if upload is None:
        return None
    if isinstance(upload, str):
        return upload
    return getattr(upload, "path", None) or getattr(upload, "name", None)


def launch(settings: DemoSettings, port: int | None = None, block: bool = True):
    """Start the app on 127.0.0.1 and return (app, address).

    Uploads go to a folder of this server's own (unless ``GRADIO_TEMP_DIR`` names one), removed when the
    server stops: users' photos do not stay behind in the system's temporary folder.
    """
    if "GRADIO_TEMP_DIR" not in os.environ:  # read by Gradio when it is first imported, just below
        uploads = tempfile.mkdtemp(prefix="gpdface-demo-uploads-")
        os.environ["GRADIO_TEMP_DIR"] = uploads
        atexit.register(shutil.rmtree, uploads, ignore_errors=True)
    demo = build_demo(settings)
    demo.launch(server_name=HOST, server_port=port, prevent_thread_lock=True, quiet=True, show_error=True)
    address = demo.local_url
    if block:
        print(f"gpdface demo running at {address} (Ctrl-C stops it)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            demo.close()
    return demo, address
