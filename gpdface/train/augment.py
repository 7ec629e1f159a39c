"""Few-shot augmentation: render pairs (G_s(w), G_t(w)) from shared latents into shards on disk.

Shard ``i`` holds ``shard_size`` pairs drawn with seed ``seed + i``, so the set is deterministic for a
seed, can be extended, and an interrupted run resumes by skipping the shards already written (each shard
is written atomically, so a half-written one never exists).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from ..imageio import atomic_write
from .teachers.base import Teacher


@dataclass(frozen=True)
class PairedShard:
    """One shard: ``N 3 R R`` uint8 sources and targets and their ``N *latent_shape`` latents."""

    sources: torch.Tensor
    targets: torch.Tensor
    latents: torch.Tensor


def _to_uint8(images: torch.Tensor) -> torch.Tensor:
    return images.float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8).cpu()


@torch.no_grad()
def render_pairs(
    source: Teacher,
    target: Teacher,
    out_dir: str | Path,
    count: int,
    shard_size: int = 256,
    seed: int = 0,
    truncation: float = 0.9,
    mixing: float = 0.5,
    batch_size: int = 64,
    on_shard: Callable[[int, int], None] | None = None,
) -> list[Path]:
    """Write ``count`` pairs as ``shard_00000.safetensors`` … in ``out_dir``; existing shards are kept."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = -(-count // shard_size)
    paths = []
    for index in range(shards):
        path = out_dir / f"shard_{index:05d}.safetensors"
        size = min(shard_size, count - index * shard_size)
        if not path.is_file():
            generator = torch.Generator().manual_seed(seed + index)
            # All of a shard's latents are drawn at once, so the shard does not depend on batch_size.
            all_latents = source.sample_latents(size, generator, truncation=truncation, mixing=mixing)
            parts = []
            for latents in all_latents.split(batch_size):
                parts.append(
                    (_to_uint8(source.synthesis(latents)), _to_uint8(target.synthesis(latents)), latents.cpu())
                )
            tensors = {
                name: torch.cat([p[i] for p in parts]).contiguous()
                for i, name in enumerate(("sources", "targets", "latents"))
            }
            meta = {"seed": str(seed + index)}
            atomic_write(path, lambda f, t=tensors, m=meta: f.write(save(t, metadata=m)))
        paths.append(path)
        if on_shard is not None:
            on_shard(index + 1, shards)
    return paths


def read_shards(paths: list[Path]) -> Iterator[PairedShard]:
    for path in paths:
        tensors = load_file(str(path))
        yield PairedShard(tensors["sources"], tensors["targets"], tensors["latents"])
