"""Export a trained student as a style folder that ``gpdface translate --style`` uses at once."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ...imageio import atomic_write
from ...nets.student import StudentNet
from ...style import StyleInfo, save_style
from ..data.pairs import grey_flags


def is_grey(images: Sequence[np.ndarray]) -> bool:
    """Whether every ``H W 3`` uint8 image is grey (``data.grey_flags``)."""
    return bool(grey_flags(images).all())


@torch.no_grad()
def make_output_grey(model: StudentNet) -> StudentNet:
    """Give the student's three output channels one filter: their average, so its drawings are exactly grey.

    Styles whose exemplars are all grey (ink, pencil) otherwise keep a faint colour fringe from the photos,
    which a few hundred steps do not train away; tanh(mean of the three pre-activations) stays within
    the spread of the three outputs it replaces.
    """
    head = model.head
    head.weight.copy_(head.weight.mean(dim=0, keepdim=True).expand_as(head.weight))
    if head.bias is not None:
        head.bias.fill_(float(head.bias.mean()))
    return model


def export_style(directory: str | Path, model: StudentNet, info: StyleInfo) -> Path:
    """Write ``config.json``, ``model.safetensors`` (fp16), ``style.json`` and a model card ``README.md``.

    The files are written into a staging folder beside ``directory``, which then replaces it in one rename:
    an export that fails or is killed leaves either the earlier style folder or none, never a partial one.
    """
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.staging-"))
    try:
        save_style(staging, model.cpu(), info)
        card = model_card(info, sum(p.numel() for p in model.parameters()))
        atomic_write(staging / "README.md", lambda f: f.write(card.encode("utf-8")))
        _swap_in(staging, directory)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already when the swap happened
    return directory


def _swap_in(staging: Path, directory: Path) -> None:
    """``staging`` becomes ``directory``; an earlier folder there is moved aside first, then deleted."""
    previous = None
    if directory.exists():
        previous = directory.with_name(f".{directory.name}.previous-{os.getpid()}")
        os.replace(directory, previous)
    os.replace(staging, directory)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def model_card(info: StyleInfo, parameters: int) -> str:
    provenance = info.provenance
    lines = [
        "---",  # Hub model-card metadata
        "library_name: gpdface",
        "license: other",
        "tags: [gpdface, face-stylization, gan-prior-distillation]",
        "---",
        "",
        f"# gpdface style `{info.name}`",
        "",
        info.description,
        "",
        "| | |",
        "| --- | --- |",
        f"| crop size | {info.crop_size} px, FFHQ-style 5-point alignment |",
        f"| default output | {info.default_output} |",
        f"| background | {info.background.mode} (around the faces; `--background` overrides it) |",
        f"| student parameters | {parameters:,} |",
        f"| licence | {info.license or 'not stated'} |",
    ]
    if info.tone_layer is not None:
        layer = ", ".join(f"{k} {v:g}" for k, v in info.tone_layer.to_dict().items())
        lines.append(f"| tone layer | {layer} (graphite shade where the photo is dark: `gpdface.tone_layer`) |")
    for key in ("method", "terms", "data", "teacher", "shots", "steps", "seed", "device", "command", "output_grey"):
        if key in provenance:
            lines.append(f"| {key} | {provenance[key]} |")
    metrics = provenance.get("metrics", {})
    if metrics:
        lines += [
            "",
            "## Metrics",
            "",
            "Grey photo: the source photo itself, in grey — the floor every method is judged against.",
            "",
            "| evaluation set | SSIM | SSIM, grey photo | FSIM | FSIM, grey photo | pairs |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for name, m in metrics.items():
            fsim = f"{m['fsim']:.4f} | {m['fsim_photo']:.4f}" if "fsim" in m else "– | –"
            lines.append(f"| {name} | {m['ssim']:.4f} | {m['ssim_photo']:.4f} | {fsim} | {m['pairs']} |")
        if any("rank1" in m for m in metrics.values()):
            lines += ["", "Identity: sketch → photo recognition rank-1 (dlib ResNet descriptor) over each set.", ""]
            lines += ["| evaluation set | rank-1, this style | rank-1, the artists' sketches |", "| --- | --- | --- |"]
            for name, m in metrics.items():
                if "rank1" in m:
                    lines.append(f"| {name} | {m['rank1']:.3f} | {m.get('rank1_artist', float('nan')):.3f} |")
    lines += ["", "Use: `gpdface translate photo.jpg --style <this folder or its name>`", ""]
    return "\n".join(lines)


def manifest_entry(style_dir: str | Path, info: StyleInfo, repo_id: str, revision: str) -> dict:
    """The ``styles`` entry of ``weights_manifest.json`` that pins a pushed style."""
    import hashlib

    style_dir = Path(style_dir)
    files = {}
    for name in ("config.json", "model.safetensors", "style.json"):
        data = (style_dir / name).read_bytes()
        files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return {
        info.name: {
            "description": info.description,
            "files": files,
            "source": {"repo_id": repo_id, "revision": revision},
            "resolution": info.crop_size,
            "license": info.license,
            "provenance": {
                k: info.provenance[k] for k in ("method", "teacher", "shots", "steps") if k in info.provenance
            },
        }
    }


def push_to_hub(style_dir: str | Path, repo_id: str, token: str | None = None) -> str:
    """Upload a style folder to a Hub model repository (created if needed); return the commit's revision.

    Honours ``HF_ENDPOINT`` and the usual token sources (``HF_TOKEN``, ``huggingface-cli login``).
    """
    import os

    from huggingface_hub import HfApi

    from ...errors import GpdfaceError

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    try:
        api.create_repo(repo_id, repo_type="model", exist_ok=True)
        commit = api.upload_folder(
            folder_path=str(style_dir),
            repo_id=repo_id,
            repo_type="model",
            commit_message=f"gpdface style {Path(style_dir).name}",
        )
    except Exception as exc:  # network and auth errors of many kinds: one actionable line
        raise GpdfaceError(
            f"cannot push {style_dir} to {repo_id}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
        ) from exc
    return commit.oid
