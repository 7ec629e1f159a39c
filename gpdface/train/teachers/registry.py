"""Find and build a teacher from a registry name or a path.

Names come from the ``teachers`` section of the weights manifest, or are teachers the user pretrained
(``$GPDFACE_HOME/teachers/<name>/config.json``). Paths may be a converted teacher
folder (``config.json`` + ``generator.safetensors``), a rosinality ``.pt`` checkpoint (converted to
safetensors once, into the gpdface cache), or a DCGAN ``.safetensors`` file.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ...checkpoint import load_checkpoint
from ...errors import OfflineError, WeightsError
from ...face.align import template_for
from ...hub import cached_file, fetch_entry, gpdface_home, sha256_of, verify_file
from ...imageio import atomic_write
from ...manifest import PackageSource, WeightsEntry, load_manifest
from ...recipe import DEFAULT_TEACHER
from .base import Teacher
from .dcgan import DCGANTeacher
from .stylegan2_teacher import StyleGAN2Teacher, convert_checkpoint


def load_teacher(teacher: str | Path = DEFAULT_TEACHER, device: str | torch.device = "cpu") -> Teacher:
    """Build the teacher called ``teacher`` (manifest name or path) on ``device``, in eval mode.

    Raises:
        OfflineError: the weights are neither cached nor downloadable; the message says how to get them.
        WeightsError: the file is corrupt or not a supported generator.
    """
    path = Path(str(teacher)).expanduser()
    if path.exists():
        return _from_path(path).to(device).eval()
    trained = gpdface_home() / "teachers" / str(teacher)  # made by `gpdface pretrain-teacher --name`
    if "/" not in str(teacher) and (trained / "config.json").is_file():
        return _from_path(trained).to(device).eval()
    entry = load_manifest().teachers.get(str(teacher))
    if entry is None:
        known = ", ".join(sorted(load_manifest().teachers)) or "none"
        raise WeightsError(f"unknown teacher {teacher!r}; known teachers: {known}, or give a checkpoint path")
    return _from_entry(entry).to(device).eval()


def _from_path(path: Path) -> Teacher:
    if path.is_dir() and (path / "config.json").is_file():
        kind = json.loads((path / "config.json").read_text()).get("type")
        if kind not in TEACHER_FOLDERS:
            known = ", ".join(TEACHER_FOLDERS)
            raise WeightsError(f"{path}/config.json: unknown teacher type {kind!r}; known: {known}")
        return TEACHER_FOLDERS[kind](path)
    if path.suffix in TEACHER_FILES:
        return TEACHER_FILES[path.suffix](path)
    raise WeightsError(f"{path}: not a teacher (expected a teacher folder, a StyleGAN2 .pt or a DCGAN .safetensors)")


def _dcgan_from_folder(folder: Path) -> DCGANTeacher:
    config = json.loads((folder / "config.json").read_text())
    state = load_file(str(folder / "generator.safetensors"))
    return DCGANTeacher(state, np.asarray(config["template"], np.float32), name=config.get("name", folder.name))


def _stylegan2_from_checkpoint(path: Path) -> StyleGAN2Teacher:
    """A rosinality-format StyleGAN2 checkpoint, converted once to safetensors in gpdface's folder."""
    folder = gpdface_home() / "teachers" / f"{path.stem}-{sha256_of(path)[:12]}"
    if not (folder / "generator.safetensors").is_file():
        convert_checkpoint(path, folder)
    return StyleGAN2Teacher.from_folder(folder, name=path.stem)


def _dcgan_from_file(path: Path) -> DCGANTeacher:
    state = load_file(str(path))
    if "main.0.weight" not in state:
        raise WeightsError(f"{path}: not a DCGAN generator (no main.0.weight)")
    return DCGANTeacher(state, template_for(64), name=path.stem)


# One loader per kind, as a style's student is found by its config's "model": a teacher folder's
# config.json "type", or a single file's suffix.
TEACHER_FOLDERS: dict[str, Callable[[Path], Teacher]] = {
    "stylegan2": StyleGAN2Teacher.from_folder,
    "dcgan": _dcgan_from_folder,
}
TEACHER_FILES: dict[str, Callable[[Path], Teacher]] = {
    ".pt": _stylegan2_from_checkpoint,
    ".pth": _stylegan2_from_checkpoint,
    ".safetensors": _dcgan_from_file,
}


def embedded_teachers_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "weights" / "teachers"


def _from_entry(entry: WeightsEntry) -> Teacher:
    if entry.embedded:  # shipped in the package: checked against the manifest like an embedded style
        folder = embedded_teachers_dir() / entry.name
        for file in entry.files:
            verify_file(folder / file.name, file)
        return _from_path(folder)
    kind = entry.provenance.get("type", "stylegan2")
    if isinstance(entry.source, PackageSource):
        path = _from_package(entry)
    else:
        path = next(iter(fetch_entry(entry).values()))
    if kind == "dcgan":
        return DCGANTeacher(load_file(str(path)), np.asarray(entry.provenance["template"], np.float32), entry.name)
    return _from_path(path)


def _from_package(entry: WeightsEntry) -> Path:
    """The entry's safetensors file: from the weights path or cache, else converted from the installed package."""
    file = entry.files[0]
    local = cached_file(entry, file) or _cached_conversion(entry)
    if local is not None:
        return local
    source = entry.source
    assert isinstance(source, PackageSource)
    top = source.member.split("/")[0]
    spec = importlib.util.find_spec(top)  # locates the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise OfflineError(
            f"teacher {entry.name!r} is not available: run `pip install --no-deps {source.requirement}` "
            f"or put {file.name} in a folder listed in GPDFACE_WEIGHTS_PATH"
        )
    member = Path(next(iter(spec.submodule_search_locations))).parent / source.member
    if sha256_of(member) != source.member_sha256:
        raise WeightsError(f"{member} does not match the pinned sha256 of {source.requirement}; reinstall it")
    state = load_checkpoint(member, f"{source.requirement} generator")
    state = state.get("netG_state_dict", state)
    dest = gpdface_home() / "teachers" / entry.name / file.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save

    tensors = {k: v.contiguous() for k, v in state.items()}
    atomic_write(dest, lambda f: f.write(save(tensors)))
    return dest


def _cached_conversion(entry: WeightsEntry) -> Path | None:
    path = gpdface_home() / "teachers" / entry.name / entry.files[0].name
    return path if path.is_file() else None
