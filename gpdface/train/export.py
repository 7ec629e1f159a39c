"""Export a trained student as a style folder that ``gpdface translate --style`` uses at once."""

from __future__ import annotations

from pathlib import Path

from ..imageio import atomic_write
from ..nets.student import StudentNet
from ..style import StyleInfo, save_style


def export_style(directory: str | Path, model: StudentNet, info: StyleInfo) -> Path:
    """Write ``config.json``, ``model.safetensors`` (fp16), ``style.json`` and a model card ``README.md``."""
    directory = Path(directory)
    save_style(directory, model.cpu(), info)
    card = model_card(info, sum(p.numel() for p in model.parameters()))
    atomic_write(directory / "README.md", lambda f: f.write(card.encode("utf-8")))
    return directory


def model_card(info: StyleInfo, parameters: int) -> str:
    provenance = info.provenance
    lines = [
        f"# gpdface style `{info.name}`",
        "",
        info.description,
        "",
        "| | |",
        "| --- | --- |",
        f"| crop size | {info.crop_size} px, FFHQ-style 5-point alignment |",
        f"| default output | {info.default_output} |",
        f"| student parameters | {parameters:,} |",
        f"| licence | {info.license or 'not stated'} |",
    ]
    for key in ("method", "data", "teacher", "shots", "steps", "seed", "command"):
        if key in provenance:
            lines.append(f"| {key} | {provenance[key]} |")
    metrics = provenance.get("metrics", {})
    if metrics:
        lines += [
            "",
            "## Metrics",
            "",
            "| evaluation set | SSIM | SSIM of the grey photo (floor) | pairs |",
            "| --- | --- | --- | --- |",
        ]
        for name, m in metrics.items():
            lines.append(f"| {name} | {m['ssim']:.4f} | {m['ssim_photo']:.4f} | {m['pairs']} |")
    lines += ["", "Use: `gpdface translate photo.jpg --style <this folder or its name>`", ""]
    return "\n".join(lines)
