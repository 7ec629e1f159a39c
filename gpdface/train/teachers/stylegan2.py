"""StyleGAN2 (Karras et al. 2020) in pure PyTorch, parameter-compatible with rosinality's checkpoints.

The module tree and parameter names follow the layout of rosinality/stylegan2-pytorch's ``model.py``
so its ``.pt`` checkpoints (``g_ema``, ``g``, ``d``, ``latent_avg``) load with ``strict=True``; the
numbers are checked against golden outputs of that implementation (tests/train/test_stylegan2.py).
Everything here is written for this project; no compiled op is needed.

Latent rows (``n_latent = 2·log2(size) − 2``): row 0 → the 4×4 conv, row 1 → the 4×4 ToRGB; at
upsampling stage k the two convs take rows 2k+1 and 2k+2 and ToRGB k takes row 2k+3.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .ops import bias_leaky_relu, fir_kernel, upfirdn2d

BLUR = (1, 3, 3, 1)


def channel_table(channel_multiplier: int = 2) -> dict[int, int]:
    """Feature channels per resolution of the public FFHQ configurations."""
    cm = channel_multiplier
    return {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * cm, 128: 128 * cm, 256: 64 * cm, 512: 32 * cm, 1024: 16 * cm}


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class Upsample(nn.Module):
    """×2 zero-insertion upsampling followed by the blur kernel (scaled by 4 to keep the gain)."""

    def __init__(self, taps: Sequence[int] = BLUR, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", fir_kernel(taps) * factor**2)
        p = self.kernel.shape[0] - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class Blur(nn.Module):
    def __init__(self, taps: Sequence[int], pad: tuple[int, int], upsample_factor: int = 1) -> None:
        super().__init__()
        self.register_buffer("kernel", fir_kernel(taps) * upsample_factor**2)
        self.pad = pad

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upfirdn2d(x, self.kernel, pad=self.pad)


class EqualConv2d(nn.Module):
    """Convolution with the equalised learning rate: weights stored N(0, 1), scaled by 1/√fan_in at run time."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int = 1, padding: int = 0, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel_size, kernel_size))
        self.scale = 1 / math.sqrt(cin * kernel_size**2)
        self.stride, self.padding = stride, padding
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)


class EqualLinear(nn.Module):
    """Linear layer with the equalised learning rate and a learning-rate multiplier."""

    def __init__(self, cin: int, cout: int, bias_init: float = 0.0, lr_mul: float = 1.0, activate: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((cout,), float(bias_init)))
        self.scale, self.lr_mul, self.activate = lr_mul / math.sqrt(cin), lr_mul, activate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activate:
            return bias_leaky_relu(F.linear(x, self.weight * self.scale), self.bias * self.lr_mul)
        return F.linear(x, self.weight * self.scale, bias=self.bias * self.lr_mul)


class ModulatedConv2d(nn.Module):
    """Style-modulated convolution; demodulated unless told not to; optional ×2 upsampling (transposed conv + blur)."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur: Sequence[int] = BLUR,
    ) -> None:
        super().__init__()
        self.cin, self.cout, self.kernel_size = cin, cout, kernel_size
        self.demodulate, self.upsample = demodulate, upsample
        if upsample:
            factor = 2
            p = (len(blur) - factor) - (kernel_size - 1)
            self.blur = Blur(blur, pad=((p + 1) // 2 + factor - 1, p // 2 + 1), upsample_factor=factor)
        self.scale = 1 / math.sqrt(cin * kernel_size**2)
        self.padding = kernel_size // 2
        self.weight = nn.Parameter(torch.randn(1, cout, cin, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, cin, bias_init=1.0)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        batch, cin, height, width = x.shape  # x: B Cin H W, style: B style_dim
        k = self.kernel_size
        s = self.modulation(style).view(batch, 1, cin, 1, 1)
        weight = self.scale * self.weight * s  # B Cout Cin k k
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(batch, self.cout, 1, 1, 1)
        x = x.reshape(1, batch * cin, height, width)  # one grouped conv for the whole batch
        if self.upsample:
            weight = weight.transpose(1, 2).reshape(batch * cin, self.cout, k, k)
            out = F.conv_transpose2d(x, weight, padding=0, stride=2, groups=batch)
            out = out.view(batch, self.cout, out.shape[-2], out.shape[-1])
            return self.blur(out)
        out = F.conv2d(x, weight.reshape(batch * self.cout, cin, k, k), padding=self.padding, groups=batch)
        return out.view(batch, self.cout, out.shape[-2], out.shape[-1])


class NoiseInjection(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        if noise is None:
            noise = x.new_empty(x.shape[0], 1, x.shape[2], x.shape[3]).normal_()
        return x + self.weight * noise


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int = 4) -> None:
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.input.repeat(batch, 1, 1, 1)


class FusedLeakyReLU(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return bias_leaky_relu(x, self.bias)


class StyledConv(nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel_size: int, style_dim: int, upsample: bool = False, blur: Sequence[int] = BLUR
    ) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(cin, cout, kernel_size, style_dim, upsample=upsample, blur=blur)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(cout)

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, cin: int, style_dim: int, upsample: bool = True, blur: Sequence[int] = BLUR) -> None:
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur)
        self.conv = ModulatedConv2d(cin, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, style) + self.bias
        return out if skip is None else out + self.upsample(skip)


class Generator(nn.Module):
    """The StyleGAN2 generator: mapping network ``style`` and a synthesis network.

    Args:
        size: output resolution (a power of two ≥ 8).
        style_dim: latent width.
        n_mlp: mapping layers.
        channel_multiplier: 2 for the public configuration "F".
        lr_mlp: learning-rate multiplier of the mapping network.
        channels: resolution → channels; the public table when None.
    """

    def __init__(
        self,
        size: int,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        blur: Sequence[int] = BLUR,
        lr_mlp: float = 0.01,
        channels: dict[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(
            PixelNorm(), *(EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activate=True) for _ in range(n_mlp))
        )
        ch = channels or channel_table(channel_multiplier)
        self.channels = ch
        self.input = ConstantInput(ch[4])
        self.conv1 = StyledConv(ch[4], ch[4], 3, style_dim, blur=blur)
        self.to_rgb1 = ToRGB(ch[4], style_dim, upsample=False)
        self.log_size = int(math.log2(size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.n_latent = self.log_size * 2 - 2
        self.convs, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.noises = nn.Module()
        for i in range(self.num_layers):
            res = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, res, res))
        cin = ch[4]
        for i in range(3, self.log_size + 1):
            cout = ch[2**i]
            self.convs.append(StyledConv(cin, cout, 3, style_dim, upsample=True, blur=blur))
            self.convs.append(StyledConv(cout, cout, 3, style_dim, blur=blur))
            self.to_rgbs.append(ToRGB(cout, style_dim, blur=blur))
            cin = cout

    def fixed_noise(self) -> list[torch.Tensor]:
        return [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]

    @torch.no_grad()
    def mean_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean of the mapping network's output over ``n`` random z (``1 style_dim``)."""
        device = self.input.input.device
        z = torch.randn(n, self.style_dim, generator=generator, device="cpu").to(device)
        return self.style(z).mean(0, keepdim=True)

    def forward(
        self,
        styles: Sequence[torch.Tensor],
        return_latents: bool = False,
        inject_index: int | None = None,
        truncation: float = 1.0,
        truncation_latent: torch.Tensor | None = None,
        input_is_latent: bool = False,
        noise: Sequence[torch.Tensor | None] | None = None,
        randomize_noise: bool = True,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images (``B 3 size size``) from one or two z / w codes, or from W+ (``B n_latent style_dim``).

        The call signature follows the reference so checkpoints' users find what they know.
        """
        if not input_is_latent:
            styles = [self.style(s) for s in styles]
        if noise is None:
            noise = [None] * self.num_layers if randomize_noise else self.fixed_noise()
        if truncation < 1:
            styles = [truncation_latent + truncation * (s - truncation_latent) for s in styles]
        latent = self.broadcast(styles, inject_index)
        return self.synthesis(latent, noise), (latent if return_latents else None)

    def broadcast(self, styles: Sequence[torch.Tensor], inject_index: int | None = None) -> torch.Tensor:
        """One or two w codes → W+ (``B n_latent style_dim``), mixing at ``inject_index``."""
        if len(styles) < 2:
            s = styles[0]
            return s if s.ndim == 3 else s.unsqueeze(1).repeat(1, self.n_latent, 1)
        if inject_index is None:
            inject_index = random.randint(1, self.n_latent - 1)
        first = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
        second = styles[1].unsqueeze(1).repeat(1, self.n_latent - inject_index, 1)
        return torch.cat([first, second], 1)

    def synthesis(self, latent: torch.Tensor, noise: Sequence[torch.Tensor | None], features: list | None = None):
        """W+ (``B n_latent style_dim``) → image; appends each stage's feature map to ``features`` if given."""
        out = self.conv1(self.input(latent.shape[0]), latent[:, 0], noise=noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(
            self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2], self.to_rgbs, strict=True
        ):
            out = conv1(out, latent[:, i], noise=noise1)
            out = conv2(out, latent[:, i + 1], noise=noise2)
            skip = to_rgb(out, latent[:, i + 2], skip)
            if features is not None:
                features.append(out)
            i += 2
        return skip


class ConvLayer(nn.Sequential):
    """[blur →] equalised conv [→ bias + leaky ReLU]; stride 2 when downsampling."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        downsample: bool = False,
        blur: Sequence[int] = BLUR,
        bias: bool = True,
        activate: bool = True,
    ) -> None:
        layers: list[nn.Module] = []
        if downsample:
            p = (len(blur) - 2) + (kernel_size - 1)
            layers.append(Blur(blur, pad=((p + 1) // 2, p // 2)))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(EqualConv2d(cin, cout, kernel_size, stride=stride, padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(cout) if bias else _PlainLeakyReLU())
        super().__init__(*layers)


class _PlainLeakyReLU(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.leaky_relu(x, 0.2) * math.sqrt(2)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, blur: Sequence[int] = BLUR) -> None:
        super().__init__()
        self.conv1 = ConvLayer(cin, cin, 3)
        self.conv2 = ConvLayer(cin, cout, 3, downsample=True, blur=blur)
        self.skip = ConvLayer(cin, cout, 1, downsample=True, blur=blur, activate=False, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """The StyleGAN2 residual discriminator with a minibatch-stddev layer (group 4, 1 feature)."""

    def __init__(
        self, size: int, channel_multiplier: int = 2, blur: Sequence[int] = BLUR, channels: dict[int, int] | None = None
    ) -> None:
        super().__init__()
        ch = channels or channel_table(channel_multiplier)
        log_size = int(math.log2(size))
        layers: list[nn.Module] = [ConvLayer(3, ch[size], 1)]
        cin = ch[size]
        for i in range(log_size, 2, -1):
            layers.append(ResBlock(cin, ch[2 ** (i - 1)], blur))
            cin = ch[2 ** (i - 1)]
        self.convs = nn.Sequential(*layers)
        self.stddev_group, self.stddev_feat = 4, 1
        self.final_conv = ConvLayer(cin + 1, ch[4], 3)
        self.final_linear = nn.Sequential(EqualLinear(ch[4] * 4 * 4, ch[4], activate=True), EqualLinear(ch[4], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.convs(x)
        batch, channels, height, width = out.shape
        group = min(batch, self.stddev_group)
        # Sample b is grouped with the samples sharing b mod (batch / group).
        grouped = out.view(group, -1, self.stddev_feat, channels // self.stddev_feat, height, width)
        stddev = torch.sqrt(grouped.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        out = torch.cat([out, stddev.repeat(group, 1, height, width)], 1)
        return self.final_linear(self.final_conv(out).view(batch, -1))
