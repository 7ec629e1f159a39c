"""Styles: a folder with ``config.json``, ``model.safetensors`` and ``style.json``.

Resolution order for a style given by name: a directory path → user styles
(``$GPDFACE_HOME/styles/<name>``) → styles embedded in the package → the manifest's Hub source.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .background import Background
from .errors import StyleNotFoundError, UsageError, WeightsError
from .face.align import template_for
from .hub import cached_file, fetch_entry, gpdface_home, verify_file
from .imageio import atomic_write
from .manifest import load_manifest
from .names import check_name, name_from_folder
from .nets.student import MAX_RESOLUTION, StudentNet, load_student, save_student
from .tone_layer import LayeredStudent, ToneLayer

STYLE_FILES = ("config.json", "model.safetensors", "style.json")
STYLE_FORMAT = 1


@dataclass(frozen=True)
class StyleInfo:
    """What ``style.json`` says about a style.

    Attributes:
        name: short name, e.g. ``sketch``.
        description: one line for humans.
        crop_size: side of the aligned crops the student was trained on.
        template: ``5 2`` landmark positions in crop pixels the crops were aligned to.
        default_output: ``paste`` or ``crop``; what ``translate`` writes when not told.
        background: how the photo around the faces is rendered (``keep`` when ``style.json`` is silent).
        license: terms of the weights (and of the data they were trained on).
        provenance: how the weights were made: teacher, data, recipe, metrics.
        tone_layer: the graphite tone put under the drawing where the photo is dark (``gpdface.tone_layer``);
            None for none.
    """

    name: str
    description: str = ""
    crop_size: int = 256
    template: tuple[tuple[float, float], ...] = ()
    default_output: str = "paste"
    background: Background = field(default_factory=Background)
    license: str = ""
    provenance: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    tone_layer: ToneLayer | None = None

    def template_array(self) -> np.ndarray:
        """The template as a ``5 2`` float32 array (the FFHQ one scaled to the crop when unset)."""
        if self.template:
            return np.asarray(self.template, np.float32)
        return template_for(self.crop_size)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": STYLE_FORMAT,
            "name": self.name,
            "description": self.description,
            "crop_size": self.crop_size,
            "template": [list(map(float, p)) for p in self.template_array()],
            "default_output": self.default_output,
            "background": self.background.to_dict(),
            "license": self.license,
            **({"tone_layer": self.tone_layer.to_dict()} if self.tone_layer else {}),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> StyleInfo:
        """Parse ``style.json``'s content.

        Raises:
            WeightsError: a field of the wrong type or out of range (``where`` names the file).
        """
        if not isinstance(data, dict):
            raise WeightsError(f"{where}: expected an object")
        if data.get("format", STYLE_FORMAT) != STYLE_FORMAT:
            raise WeightsError(f"{where}: style format {data.get('format')} is not supported by this gpdface")
        if data.get("default_output", "paste") not in ("paste", "crop"):
            raise WeightsError(f"{where}: default_output must be 'paste' or 'crop'")
        crop_size = data.get("crop_size", 256)
        if isinstance(crop_size, bool) or not isinstance(crop_size, int) or not 16 <= crop_size <= MAX_RESOLUTION:
            raise WeightsError(f"{where}: crop_size must be an integer in 16–{MAX_RESOLUTION}, got {crop_size!r}")
        provenance = data.get("provenance", {})
        if not isinstance(provenance, dict):
            raise WeightsError(f"{where}: provenance must be an object")
        name = data.get("name", "")
        if name != "":  # untrusted: the name becomes part of output file names
            check_name(name, f"{where}: the style's name", WeightsError)
        return cls(
            name=name,
            description=str(data.get("description", "")),
            crop_size=crop_size,
            template=_parse_template(data.get("template", ()), crop_size, where),
            default_output=str(data.get("default_output", "paste")),
            background=Background.from_dict(data.get("background", "keep"), where),
            license=str(data.get("license", "")),
            provenance=provenance,
            tone_layer=ToneLayer.from_dict(data.get("tone_layer"), where),
        )


def _parse_template(value: Any, crop_size: int, where: str) -> tuple[tuple[float, float], ...]:
    """Five finite points inside (a margin around) the crop, eyes apart; empty for the FFHQ default."""
    if value in ((), []):
        return ()
    try:
        points = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        points = np.zeros(0)
    if points.shape != (5, 2):
        raise WeightsError(f"{where}: template must be 5 [x, y] points")
    if not np.isfinite(points).all() or np.abs(points).max() > 2 * crop_size:
        raise WeightsError(f"{where}: template points must be finite and within the {crop_size} px crop")
    if np.linalg.norm(points[1] - points[0]) < 0.05 * crop_size:
        raise WeightsError(f"{where}: the template's eyes are too close to align a face")
    return tuple((float(x), float(y)) for x, y in points)


@dataclass(frozen=True)
class Style:
    """A loaded style: its folder, what ``style.json`` says and the student network (float32, eval mode)."""

    path: Path
    info: StyleInfo
    model: StudentNet

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def drawer(self) -> torch.nn.Module:
        """What ``translate`` runs on an aligned crop: the student, then the style's tone layer if it has one.
        Evaluations and benchmarks score this, not the bare student."""
        if self.info.tone_layer is None:
            return self.model
        return LayeredStudent(self.model, self.info.tone_layer).eval()


@dataclass(frozen=True)
class StyleListing:
    """One row of ``list_styles``: where a style comes from and whether it can be used offline."""

    name: str
    origin: str  # "user", "embedded" or "published"
    description: str
    available: bool
    path: Path | None
    license: str = ""
    made_from: str = ""  # e.g. "5 exemplars, teacher lfw64" (from style.json's provenance)


def user_styles_dir() -> Path:
    return gpdface_home() / "styles"


def embedded_styles_dir() -> Path:
    return Path(str(resources.files("gpdface") / "weights" / "styles"))


def shipped_style_names() -> set[str]:
    """Styles that come with gpdface: embedded in the package or published in its manifest."""
    folder = embedded_styles_dir()
    embedded = {p.name for p in folder.iterdir() if _is_style_dir(p)} if folder.is_dir() else set()
    return embedded | set(load_manifest().styles)


def _is_style_dir(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in STYLE_FILES)


def _looks_like_path(style: str) -> bool:
    return any(sep in style for sep in ("/", "\\")) or style.startswith((".", "~"))


def resolve_style(style: str | Path) -> Path:
    """The folder holding ``style``'s files, downloading them from the Hub when needed.

    Raises:
        StyleNotFoundError: nothing is called ``style`` (the message names close matches).
        WeightsError: the style is published but cannot be fetched or verified.
    """
    text = str(style)
    path = Path(text).expanduser()
    if isinstance(style, Path) or _looks_like_path(text):
        if _is_style_dir(path):
            return path
        missing = [n for n in STYLE_FILES if not (path / n).is_file()] if path.is_dir() else []
        detail = f"it lacks {', '.join(missing)}" if missing else "no such folder"
        raise StyleNotFoundError(f"{path} is not a style folder ({detail})")
    if _is_style_dir(path):  # a bare word that names a style folder here
        return path
    # A bare word is otherwise a style's name, even beside a folder of that name that is not a style — the
    # exemplar folder a style was named after (`finetune --shots ./my_5_images`, then `--style my_5_images`).
    for folder in (user_styles_dir(), embedded_styles_dir()):
        if _is_style_dir(folder / text):
            _verify_embedded(text, folder)
            return folder / text
    entry = load_manifest().styles.get(text)
    if entry is not None and entry.source is not None:
        files = fetch_entry(entry)
        return files["model.safetensors"].parent
    names = sorted({row.name for row in list_styles()})
    close = difflib.get_close_matches(text, names, n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise StyleNotFoundError(
        f"unknown style {text!r}; {hint}known styles: {', '.join(names) or 'none'} (see `gpdface styles`)"
    )


def _verify_embedded(name: str, folder: Path) -> None:
    """Embedded styles listed in the manifest are checked against their pinned hashes."""
    entry = load_manifest().styles.get(name)
    if entry is not None and entry.embedded and folder == embedded_styles_dir():
        for file in entry.files:
            verify_file(folder / name / file.name, file)


def read_style_info(path: Path) -> StyleInfo:
    where = str(path / "style.json")
    try:
        data = json.loads((path / "style.json").read_text(encoding="utf-8-sig"))  # a byte-order mark is fine
    except (OSError, ValueError, RecursionError) as exc:
        raise WeightsError(f"cannot read {where}: {str(exc)[:160]}") from None
    info = StyleInfo.from_dict(data, where)
    if info.name:
        return info
    try:
        name = name_from_folder(path.resolve().name)
    except UsageError:
        raise WeightsError(f"{where} gives no name and none can be made from its folder's name") from None
    return StyleInfo(**{**info.__dict__, "name": name})


def load_style(style: str | Path) -> Style:
    """Resolve ``style`` (name or folder) and load its student.

    Raises:
        StyleNotFoundError: unknown name.
        WeightsError: files missing, corrupt or inconsistent.
    """
    path = resolve_style(style)
    info = read_style_info(path)
    model = load_student(path)
    if model.config.resolution != info.crop_size:
        raise WeightsError(
            f"{path}: style.json says crop_size {info.crop_size} but config.json says {model.config.resolution}"
        )
    return Style(path, info, model)


def save_style(directory: str | Path, model: StudentNet, info: StyleInfo) -> Path:
    """Write a complete style folder: ``config.json``, ``model.safetensors`` (fp16) and ``style.json``."""
    directory = Path(directory)
    save_student(model, directory)
    text = json.dumps(info.to_dict(), indent=2) + "\n"
    atomic_write(directory / "style.json", lambda f: f.write(text.encode("utf-8")))
    return directory


def list_styles() -> list[StyleListing]:
    """User, embedded and published styles; a name shadowed by an earlier origin is listed once."""
    rows: dict[str, StyleListing] = {}
    for origin, folder in (("user", user_styles_dir()), ("embedded", embedded_styles_dir())):
        if folder.is_dir():
            # hidden folders are never styles (no style name starts with '.'): an interrupted export's staging
            # folder, say
            for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".") and _is_style_dir(p)):
                if path.name not in rows:
                    rows[path.name] = _listing(path, origin)
    for name, entry in load_manifest().styles.items():
        if name in rows or entry.source is None:
            continue
        cached = _cached_entry_dir(entry)
        made_from = made_from_provenance(entry.provenance)
        rows[name] = StyleListing(
            name, "published", entry.description, cached is not None, cached, entry.license, made_from
        )
    return list(rows.values())


def _listing(path: Path, origin: str) -> StyleListing:
    try:
        info = read_style_info(path)
    except WeightsError as exc:
        return StyleListing(path.name, origin, f"(unreadable: {exc})", False, path)
    made_from = made_from_provenance(info.provenance)
    return StyleListing(path.name, origin, info.description, True, path, info.license, made_from)


def made_from_provenance(provenance: dict[str, Any]) -> str:
    """One line on what a style was made from: its exemplars and its teacher, as its provenance records."""
    shots, teacher = provenance.get("shots"), provenance.get("teacher")
    if not isinstance(shots, int):
        return ""
    if teacher in (None, "none"):
        return f"{shots} exemplar pairs, no teacher"
    return f"{shots} exemplar{'s' if shots != 1 else ''}, teacher {teacher}"


def _cached_entry_dir(entry) -> Path | None:
    try:
        paths = [cached_file(entry, f) for f in entry.files]
    except WeightsError:
        return None
    return paths[0].parent if all(paths) else None
