"""The student: a small fully convolutional encoder–decoder distilled from the GAN teacher.

Layout (``channels = (c0, c1, …, cn)``, ``n`` downsamplings)::

    x (B 3 R R) ─ stem conv c0 ─ down → c1 (R/2) ─ … ─ down → cn (R/2ⁿ) ─ res blocks ─┐
                      │                  │                                         │
    y (B 3 R R) ─ head ─ + ─ up ─ … ─ + ─ up ◄─────────────────────────────────────┘

Skips are added, not concatenated, which keeps the decoder as cheap as the encoder. Upsampling is a resize
followed by a 3×3 convolution, which avoids the checkerboard of transposed convolutions; bilinear resizing
(the default) also avoids the 2ⁿ-pixel blocks that cascaded nearest-neighbour resizing left in adversarially
trained students (nearest stays an option).
The configuration is saved as ``config.json`` beside ``model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save
from torch import nn

from ..errors import WeightsError
from ..imageio import atomic_write
from ..names import quoted
from ..shapes import check_shape

NORMS = ("instance", "batch", "none")
UPSAMPLING = ("bilinear", "nearest")
# What a style may declare: far beyond any student worth running, short of sizes that would try to
# allocate gigabytes (a malformed or hostile config.json must fail with a message, not exhaust memory).
MAX_RESOLUTION = 2048
MAX_CHANNELS = 1024
MAX_LEVELS = 8
MAX_RES_BLOCKS = 32


@dataclass(frozen=True)
class StudentConfig:
    """Hyper-parameters of a ``StudentNet``.

    Attributes:
        resolution: side of the square face crop the student was trained on.
        channels: feature channels at each scale, finest first; ``len(channels) - 1`` downsamplings.
        res_blocks: residual blocks at the coarsest scale.
        norm: ``instance``, ``batch`` or ``none``.
        upsample: ``bilinear`` or ``nearest`` resizing before each decoder convolution.
        in_channels: input image channels.
        out_channels: output image channels.
    """

    resolution: int = 256
    channels: tuple[int, ...] = (16, 32, 64, 128)
    res_blocks: int = 4
    norm: str = "batch"
    upsample: str = "bilinear"
    in_channels: int = 3
    out_channels: int = 3

    def __post_init__(self) -> None:
        if len(self.channels) > MAX_LEVELS:  # before converting what may be millions of entries
            raise ValueError(f"channels must be 1–{MAX_LEVELS} values, got {len(self.channels)}")
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {self.norm!r}")
        if self.upsample not in UPSAMPLING:
            raise ValueError(f"upsample must be one of {UPSAMPLING}, got {self.upsample!r}")
        if not 1 <= len(self.channels) <= MAX_LEVELS or not all(1 <= c <= MAX_CHANNELS for c in self.channels):
            raise ValueError(f"channels must be 1–{MAX_LEVELS} values in 1–{MAX_CHANNELS}, got {quoted(self.channels)}")
        if not 16 <= self.resolution <= MAX_RESOLUTION:
            raise ValueError(f"resolution must be in 16–{MAX_RESOLUTION}, got {self.resolution}")
        if not 0 <= self.res_blocks <= MAX_RES_BLOCKS or self.in_channels not in (1, 3) or self.out_channels != 3:
            raise ValueError("res_blocks, in_channels or out_channels out of range")
        if self.resolution % (2 ** (len(self.channels) - 1)):
            raise ValueError(f"resolution {self.resolution} is not divisible by 2^{len(self.channels) - 1}")

    def to_json(self) -> str:
        from .. import __version__

        return json.dumps({"model": "StudentNet", "gpdface_version": __version__, **asdict(self)}, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: object) -> StudentConfig:
        """Parse ``config.json``'s content.

        Raises:
            WeightsError: not an object, unknown keys, a model type this gpdface does not know, or values of
                the wrong type or out of range.
        """
        if not isinstance(data, dict):
            raise WeightsError("config.json must hold an object")
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"model", "gpdface_version"}
        if unknown:
            raise WeightsError(
                f"config.json has unknown keys {quoted(sorted(unknown))}; is this a newer gpdface's style?"
            )
        model = data.get("model", "StudentNet")
        if not isinstance(model, str) or model not in STUDENTS:
            raise WeightsError(f"config.json names model {quoted(model)}; known: {', '.join(STUDENTS)}")
        values = {k: v for k, v in data.items() if k in known}
        try:
            for key in ("resolution", "res_blocks", "in_channels", "out_channels"):
                if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int)):
                    raise TypeError(f"{key} must be an integer")
            channels = values.get("channels", ())
            if not isinstance(channels, (list, tuple)) or any(
                isinstance(c, bool) or not isinstance(c, int) for c in channels[: MAX_LEVELS + 1]
            ):
                raise TypeError("channels must be a list of integers")
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"config.json: {exc}") from None


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    return nn.Identity()


class ConvBlock(nn.Sequential):
    """3×3 convolution → normalisation → ReLU."""

    def __init__(self, cin: int, cout: int, norm: str, stride: int = 1) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=norm == "none", padding_mode="reflect"),
            _norm(norm, cout),
            nn.ReLU(inplace=True),
        )


class ResBlock(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels, norm),
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none", padding_mode="reflect"),
            _norm(norm, channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpBlock(nn.Module):
    """×2 resizing (bilinear or nearest) then a ``ConvBlock``."""

    def __init__(self, cin: int, cout: int, norm: str, mode: str = "bilinear") -> None:
        super().__init__()
        self.conv = ConvBlock(cin, cout, norm)
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "nearest":
            return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


class StudentNet(nn.Module):
    """Image-to-image student: ``B 3 R R`` in [-1, 1] → ``B 3 R R`` in [-1, 1]."""

    def __init__(self, config: StudentConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or StudentConfig()
        ch, norm = config.channels, config.norm
        self.stem = ConvBlock(config.in_channels, ch[0], norm)
        self.down = nn.ModuleList(ConvBlock(ch[i], ch[i + 1], norm, stride=2) for i in range(len(ch) - 1))
        self.middle = nn.Sequential(*(ResBlock(ch[-1], norm) for _ in range(config.res_blocks)))
        self.up = nn.ModuleList(UpBlock(ch[i + 1], ch[i], norm, config.upsample) for i in reversed(range(len(ch) - 1)))
        self.head = nn.Conv2d(ch[0], config.out_channels, 3, padding=1, padding_mode="reflect")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, f"B {self.config.in_channels} H W", "student input")
        skips = [self.stem(x)]  # finest first: B c0 R R, B c1 R/2 R/2, …
        for down in self.down:
            skips.append(down(skips[-1]))
        h = self.middle(skips.pop())  # B cn R/2ⁿ R/2ⁿ
        for up in self.up:
            h = up(h) + skips.pop()
        return torch.tanh(self.head(h))


def count_flops(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Floating-point operations of one forward pass on a ``1 C R R`` input (a multiply-add counts 2).

    Only convolutions and linear layers are counted: they are over 95 % of the work here.
    """
    total = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        total += 2 * kernel * output.numel()

    def linear_hook(module: nn.Linear, _inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += 2 * module.in_features * output.numel()

    handles = [
        m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else linear_hook)
        for m in model.modules()
        if isinstance(m, (nn.Conv2d, nn.Linear))
    ]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, in_channels, resolution, resolution, device=next(model.parameters()).device))
        model.train(was_training)
    finally:
        for handle in handles:
            handle.remove()
    return total


def save_student(model: StudentNet, directory: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (weights cast to ``dtype``) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    weights = save(state, metadata={"format": "pt", "model": "StudentNet"})
    atomic_write(directory / "model.safetensors", lambda f: f.write(weights))
    atomic_write(directory / "config.json", lambda f: f.write(model.config.to_json().encode("utf-8")))
    return directory


def load_student(directory: str | Path) -> StudentNet:
    """Build a ``StudentNet`` from ``config.json`` and load ``model.safetensors`` strictly, in float32.

    Raises:
        WeightsError: a file is missing or the weights do not fit the configuration.
    """
    directory = Path(directory)
    for name in ("config.json", "model.safetensors"):
        if not (directory / name).is_file():
            raise WeightsError(f"style folder {directory} is incomplete: {name} is missing")
    try:
        document = json.loads((directory / "config.json").read_text(encoding="utf-8-sig"))  # a BOM is fine
        config = StudentConfig.from_dict(document)
    except (OSError, ValueError, RecursionError) as exc:
        raise WeightsError(
            f"cannot read {directory / 'config.json'}: {exc.__class__.__name__}: {str(exc)[:160]}"
        ) from None
    except WeightsError as exc:
        raise WeightsError(f"{directory}/{exc}") from None
    network = STUDENTS[document.get("model", "StudentNet")]
    _check_shapes(directory / "model.safetensors", network, config)  # before anything of that size is built
    try:
        state = load_file(str(directory / "model.safetensors"))
    except Exception as exc:  # safetensors raises its own SafetensorError, OSError or ValueError
        reason = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        raise WeightsError(f"{directory}/model.safetensors is not a readable safetensors file: {reason}") from None
    bad = sorted(k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all())
    if bad:
        raise WeightsError(f"{directory}/model.safetensors holds non-finite weights ({', '.join(bad[:3])}, …)")
    model = network(config)
    try:
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        raise WeightsError(
            f"{directory}/model.safetensors does not fit config.json: {str(exc).splitlines()[0][:200]}"
        ) from None
    model.eval()
    _check_finite_drawing(model, directory)
    return model


def _check_shapes(path: Path, network: type[StudentNet], config: StudentConfig) -> None:
    """The weights file's tensor names and shapes (read from its header alone) against the network the
    configuration describes (built on the meta device: no memory), so a configuration that asks for a huge
    network is refused before any of it is allocated."""
    from safetensors import safe_open

    with torch.device("meta"):
        expected = {name: tuple(t.shape) for name, t in network(config).state_dict().items()}
    try:
        with safe_open(str(path), framework="pt") as stored:
            found = {name: tuple(stored.get_slice(name).get_shape()) for name in stored.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own SafetensorError, OSError or ValueError
        reason = str(exc).splitlines()[0][:120] if str(exc) else exc.__class__.__name__
        raise WeightsError(f"{path} is not a readable safetensors file: {reason}") from None
    if found != expected:
        missing, extra = sorted(set(expected) - set(found)), sorted(set(found) - set(expected))
        wrong = sorted(k for k in set(expected) & set(found) if expected[k] != found[k])
        detail = "; ".join(
            f"{what} {quoted(names[:3])}{' …' if len(names) > 3 else ''}"
            for what, names in (("missing", missing), ("unexpected", extra), ("other shapes", wrong))
            if names
        )
        raise WeightsError(f"{path} does not fit its config.json: {detail}")


@torch.no_grad()
def _check_finite_drawing(model: StudentNet, directory: Path) -> None:
    """Finite weights can still overflow (values near the fp16 maximum): draw a small probe (a ramp through
    the whole input range) and refuse a student whose drawing is not finite, as non-finite weights are."""
    side = 2 ** (len(model.config.channels) - 1) * 4
    channels = model.config.in_channels
    probe = torch.linspace(-1, 1, channels * side * side).view(1, channels, side, side)
    if not torch.isfinite(model(probe)).all():
        raise WeightsError(f"{directory}/model.safetensors overflows: its drawing of a test ramp is not finite")


# ``config.json``'s "model" → the class that reads it (as diffusers' configs name their class).
STUDENTS: dict[str, type[StudentNet]] = {"StudentNet": StudentNet}
