"""Training throughput of candidate teacher GANs on this machine (images per second, one G+D step).

    python benchmarks/teacher_candidates.py --out teacher_candidates.json

Times a full non-saturating GAN step (discriminator on real + generated, then generator), DiffAugment
included, for DCGAN generators of several widths and a small StyleGAN2 (modulated convolutions, its
residual discriminator), all at the same resolution and batch. The candidates' sizes and FLOPs stand
beside the speed, so the choice in ``gpdface/train/pretrain.py`` can be checked. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from emit import emit

from gpdface.train.student.augment_ops import diff_augment
from gpdface.train.teachers.dcgan import dcgan_channels, dcgan_generator
from gpdface.train.teachers.pretrain import dcgan_discriminator
from gpdface.train.teachers.stylegan2 import Discriminator, Generator


def dcgan(width: int, resolution: int):
    generator = dcgan_generator(100, dcgan_channels(width, resolution))
    return generator, dcgan_discriminator(width, resolution), lambda b: generator(torch.randn(b, 100, 1, 1))


def grown_dcgan(width: int, resolution: int):
    """``lfw64``'s layout (width 48) with one more octave on top, as ``pretrain-teacher --grow-from`` builds it;
    ``width`` is the discriminator's."""
    generator = dcgan_generator(100, [*dcgan_channels(48, resolution // 2), 24])
    return generator, dcgan_discriminator(width, resolution), lambda b: generator(torch.randn(b, 100, 1, 1))


def stylegan2(width: int, resolution: int):
    # the DCGAN's channel plan at 64 px (8w at 4 and 8 px, halving to w at 64 px), so only the layer type differs
    channels = {4: 8 * width, 8: 8 * width, 16: 4 * width, 32: 2 * width, 64: width, 128: width}
    generator = Generator(resolution, style_dim=256, n_mlp=4, channels=channels)
    disc = Discriminator(resolution, channels=channels)
    return generator, disc, lambda b: generator([torch.randn(b, 256)])[0]


def step_seconds(build, width: int, resolution: int, batch: int, repeats: int) -> tuple[float, int, int]:
    generator, disc, sample = build(width, resolution)
    opt_g, opt_d = torch.optim.Adam(generator.parameters()), torch.optim.Adam(disc.parameters())
    real = torch.rand(batch, 3, resolution, resolution) * 2 - 1

    def one_step() -> None:
        fake = sample(batch)
        d_loss = F.softplus(-disc(diff_augment(real))).mean() + F.softplus(disc(diff_augment(fake.detach()))).mean()
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        g_loss = F.softplus(-disc(diff_augment(fake))).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()

    one_step()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_step()
        times.append(time.perf_counter() - start)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return statistics.median(times), count(generator), count(disc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--only", nargs="+", default=None, help="candidate names to time (default: all)")
    args = parser.parse_args()
    candidates = [("dcgan", dcgan, w) for w in (32, 48, 64)] + [("stylegan2-small", stylegan2, w) for w in (32, 48)]
    if args.resolution >= 128:  # growing a 64 px generator by one octave: only meaningful above 64 px
        candidates += [("dcgan-grown-from-lfw64", grown_dcgan, w) for w in (32, 48)]
    candidates = [c for c in candidates if args.only is None or c[0] in args.only]
    results = []
    for name, build, width in candidates:
        seconds, g_params, d_params = step_seconds(build, width, args.resolution, args.batch, args.repeats)
        results.append({
            "candidate": name, "width": width, "generator_params": g_params, "discriminator_params": d_params,
            "generator_fp16_mb": g_params * 2 / 1e6, "step_s": seconds, "images_per_s": args.batch / seconds,
            "kimg_per_hour": args.batch / seconds * 3.6,
        })  # fmt: skip
        print(json.dumps(results[-1]), flush=True)
    report = {
        "resolution": args.resolution, "batch": args.batch, "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "results": results,
    }  # fmt: skip
    emit(report, args.out)


if __name__ == "__main__":
    main()
