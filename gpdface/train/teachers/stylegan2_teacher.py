"""StyleGAN2 as a ``Teacher``: checkpoint loading (rosinality format), conversion to safetensors, W+ latents."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn

from ...checkpoint import load_checkpoint
from ...errors import WeightsError
from ...face.align import template_for
from ...imageio import atomic_write
from .base import Teacher
from .stylegan2 import Generator


def read_rosinality_checkpoint(path: str | Path) -> dict:
    """Load a rosinality-format ``.pt`` with ``torch.load(weights_only=True)``.

    Training checkpoints carry ``args``, a pickled ``argparse.Namespace``; that one class (a plain
    attribute bag) is allow-listed for the load, nothing else is unpickled.
    """
    return load_checkpoint(path, "StyleGAN2 checkpoint", allow=[argparse.Namespace])


def infer_config(state: dict[str, torch.Tensor]) -> dict:
    """Size, latent width, mapping depth and channel multiplier from a generator state dict."""
    n_mlp = sum(1 for k in state if k.startswith("style.") and k.endswith(".weight"))
    style_dim = state["style.1.weight"].shape[0]
    n_convs = sum(1 for k in state if k.startswith("convs.") and k.endswith(".conv.weight"))
    size = 2 ** (n_convs // 2 + 2)
    last = state[f"convs.{n_convs - 1}.conv.weight"].shape[1]
    # In the public table channels × size = 16384 × multiplier from 64 px up; below, all layers have 512.
    channel_multiplier = max(1, round(last * size / 16384)) if size >= 64 else 2
    return {"size": size, "style_dim": style_dim, "n_mlp": n_mlp, "channel_multiplier": channel_multiplier}


def convert_checkpoint(path: str | Path, out_dir: str | Path) -> Path:
    """Convert a rosinality ``.pt`` into ``generator.safetensors`` (g_ema + latent_avg), ``discriminator.safetensors``
    (when ``d`` is present) and ``config.json``; returns ``out_dir``."""
    ckpt = read_rosinality_checkpoint(path)
    if "g_ema" not in ckpt:
        raise WeightsError(f"{path} has no 'g_ema' generator (keys: {', '.join(sorted(ckpt))})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    g_state = {k: v.float().contiguous() for k, v in ckpt["g_ema"].items()}
    config = infer_config(g_state)
    generator = Generator(config["size"], config["style_dim"], config["n_mlp"], config["channel_multiplier"])
    generator.load_state_dict(g_state, strict=True)  # refuse anything that is not this architecture
    latent_avg = ckpt.get("latent_avg")
    if latent_avg is None:
        latent_avg = generator.mean_latent(10_000, torch.Generator().manual_seed(0))[0]
    tensors = {**g_state, "latent_avg": latent_avg.reshape(-1).float().contiguous()}
    atomic_write(out_dir / "generator.safetensors", lambda f: f.write(_safetensors_bytes(tensors)))
    if "d" in ckpt:
        d_state = {k: v.float().contiguous() for k, v in ckpt["d"].items()}
        atomic_write(out_dir / "discriminator.safetensors", lambda f: f.write(_safetensors_bytes(d_state)))
    text = json.dumps({"type": "stylegan2", **config, "source": str(Path(path).name)}, indent=2)
    atomic_write(out_dir / "config.json", lambda f: f.write(text.encode()))
    return out_dir


def _safetensors_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    return save(tensors)


class StyleGAN2Teacher(Teacher):
    """StyleGAN2 behind the ``Teacher`` interface; latents are W+ (``B n_latent style_dim``).

    Synthesis uses the generator's fixed noise buffers, so G_s(w) and G_t(w) differ only by the weights.
    """

    def __init__(
        self,
        generator: Generator,
        latent_avg: torch.Tensor,
        template: np.ndarray | None = None,
        name: str = "stylegan2",
    ) -> None:
        super().__init__()
        self.generator = generator.eval()
        self.register_buffer("latent_avg", latent_avg.reshape(1, -1).float())
        self.name, self.resolution = name, generator.size
        self.latent_shape = (generator.n_latent, generator.style_dim)
        self.template = np.asarray(template if template is not None else template_for(generator.size), np.float32)
        for p in self.generator.style.parameters():
            p.requires_grad_(False)

    @classmethod
    def from_folder(cls, folder: str | Path, name: str | None = None) -> StyleGAN2Teacher:
        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text())
        state = load_file(str(folder / "generator.safetensors"))
        latent_avg = state.pop("latent_avg")
        generator = Generator(config["size"], config["style_dim"], config["n_mlp"], config["channel_multiplier"])
        generator.load_state_dict(state, strict=True)
        # discriminator.safetensors, when the conversion wrote one, is not loaded: adaptation trains its own
        # patch discriminator (adapt.py), and the 1024 px one would cost ~115 MB for nothing.
        return cls(generator, latent_avg, name=name or folder.name)

    def sample_latents(self, n, generator=None, truncation=1.0, mixing=0.0) -> torch.Tensor:
        g = self.generator
        device = self.device
        z = torch.randn(2, n, g.style_dim, generator=generator).to(device)
        with torch.no_grad():
            w = g.style(z.view(2 * n, -1)).view(2, n, -1)
            w = self.latent_avg + truncation * (w - self.latent_avg)
        plus = w[0].unsqueeze(1).repeat(1, g.n_latent, 1)
        if mixing > 0:
            mix = torch.rand(n, generator=generator) < mixing
            cut = torch.randint(1, g.n_latent, (n,), generator=generator)
            rows = torch.arange(g.n_latent)[None, :] >= cut[:, None]  # n n_latent
            take = (mix[:, None] & rows).to(device)[..., None]
            plus = torch.where(take, w[1].unsqueeze(1), plus)
        return plus

    def synthesis(self, latents: torch.Tensor) -> torch.Tensor:
        return self.generator.synthesis(latents, self.generator.fixed_noise())

    def synthesis_with_features(self, latents):
        features: list[torch.Tensor] = []
        images = self.generator.synthesis(latents, self.generator.fixed_noise(), features)
        return images, features

    def adaptable_parameters(self) -> Iterator[nn.Parameter]:
        mapping = {id(p) for p in self.generator.style.parameters()}
        return (p for p in self.generator.parameters() if id(p) not in mapping)

    def initial_latent(self, n: int = 1) -> torch.Tensor:
        return self.latent_avg.unsqueeze(1).repeat(n, self.generator.n_latent, 1)
