"""Reading and writing images: EXIF orientation, any pixel mode, a pixel limit, atomic writes.

Images travel through gpdface as ``LoadedImage``: an ``H W 3`` uint8 RGB array plus an optional
``H W`` uint8 alpha plane that is put back on output.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import InputError, OutputError
from .options import DEFAULT_MAX_PIXELS
from .shapes import check_shape

ImageSource = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor

_ALPHA_FORMATS = {"PNG", "WEBP", "TIFF", "GIF"}


@dataclass(frozen=True)
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: ``H W 3`` uint8 RGB pixels, EXIF orientation applied.
        alpha: ``H W`` uint8 alpha plane of the input, or None when it had none.
        source: the path it was read from, when it came from a file.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None = None
    source: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def read_image(source: ImageSource, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode an image from a path, a PIL image, an array or a tensor.

    Arrays are ``H W``, ``H W 3`` (RGB) or ``H W 4`` (RGBA) uint8. Tensors are ``3 H W`` or ``1 3 H W``,
    either uint8 or float in [0, 1] (the torchvision convention; values outside are clipped, NaN and
    infinities refused); other integer tensors are refused rather than guessed at.

    Raises:
        InputError: the file is missing, empty, not an image, truncated, or has more than ``max_pixels``.
    """
    try:
        return _read_source(source, max_pixels)
    except InputError:
        raise
    except Exception as exc:  # a documented type in an unusual state: a closed image, a meta or sparse tensor, …
        reason = (str(exc).splitlines() or [""])[0][:160]
        raise InputError(
            f"cannot read an image from this {type(source).__name__}: {type(exc).__name__}: {reason}"
        ) from None


def _read_source(source: ImageSource, max_pixels: int) -> LoadedImage:
    if isinstance(source, (str, os.PathLike)):
        return _read_file(Path(source), max_pixels)
    if isinstance(source, Image.Image):
        _check_pixels(source.size, max_pixels, "image")
        return _from_pil(source)
    if isinstance(source, torch.Tensor):
        return _from_array(_tensor_to_hwc(source), max_pixels)
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    raise InputError(f"cannot read an image from {type(source).__name__}: give a path, PIL image, array or tensor")


def _read_file(path: Path, max_pixels: int) -> LoadedImage:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty (0 bytes)")
    size, native = (0, 0), list[str]()
    try:
        with warnings.catch_warnings():
            # Pillow warns about metadata it cannot parse (corrupt EXIF, odd TIFF tags) while the pixels decode
            # fine: several stderr lines the user can do nothing about. Bombs are refused by the pixel limit.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                size = im.size
                _check_pixels(size, max_pixels, str(path))
                # libtiff reports every damaged strip on stderr itself (180 lines for one file): kept for the
                # error message instead
                with _native_stderr_kept(native) if im.format == "TIFF" else contextlib.nullcontext():
                    im.load()
                loaded = _from_pil(im)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{path}: not enough memory to decode a {size[0]}×{size[1]} image") from None
    except UnidentifiedImageError:
        raise InputError(f"{path}: not an image file that Pillow can read") from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"{path}: refused as a possible decompression bomb ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        detail = f"{exc}; {native[0]}" if native else str(exc)
        raise InputError(f"{path}: the image is damaged or truncated ({detail[:200]})") from None
    return LoadedImage(loaded.rgb, loaded.alpha, str(path))


@contextlib.contextmanager
def _native_stderr_kept(lines: list[str]) -> Iterator[None]:
    """What native code writes to the process's stderr meanwhile goes into ``lines`` instead."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines.extend(line for line in sink.read().decode("utf-8", "replace").splitlines() if line.strip())


def _check_pixels(size: tuple[int, int], max_pixels: int, what: str) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InputError(
            f"{what}: {width}×{height} = {width * height:,} pixels exceeds the limit of {max_pixels:,} "
            "(a guard against decompression bombs); downscale it or raise max_pixels"
        )
    if width == 0 or height == 0:
        raise InputError(f"{what}: the image has no pixels ({width}×{height})")


def _from_pil(im: Image.Image) -> LoadedImage:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # metadata Pillow cannot parse (see _read_file)
        im = ImageOps.exif_transpose(im)
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        im = _high_depth_to_l(im)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("LA", "PA", "La", "RGBa"):
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        arr = np.asarray(im)
        return LoadedImage(np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3]))
    return LoadedImage(np.ascontiguousarray(np.asarray(im.convert("RGB"))))


def _high_depth_to_l(im: Image.Image) -> Image.Image:
    """16-bit and 32-bit single-channel images to 8-bit, keeping the full range."""
    arr = np.asarray(im).astype(np.float64)
    top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
    arr = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
    return Image.fromarray(arr, mode="L")


def _from_array(arr: np.ndarray, max_pixels: int) -> LoadedImage:
    if arr.dtype != np.uint8:
        raise InputError(f"expected a uint8 image array, got dtype {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
        raise InputError(f"expected an H×W×3 RGB (or H×W, H×W×4) array, got shape {arr.shape}")
    _check_pixels((arr.shape[1], arr.shape[0]), max_pixels, "array")
    if arr.shape[2] == 1:
        return LoadedImage(np.ascontiguousarray(np.repeat(arr, 3, axis=2)))
    if arr.shape[2] == 4:
        return LoadedImage(np.ascontiguousarray(arr[..., :3]), np.ascontiguousarray(arr[..., 3]))
    return LoadedImage(np.ascontiguousarray(arr))


def _tensor_to_hwc(t: torch.Tensor) -> np.ndarray:
    if t.ndim == 4 and t.shape[0] == 1:
        t = t[0]
    if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
        raise InputError(f"expected a 3×H×W (or 1×3×H×W) image tensor, got shape {tuple(t.shape)}")
    t = t.detach().cpu()
    if t.dtype == torch.bool or (not t.is_floating_point() and t.dtype != torch.uint8):
        # An int64 tensor of 200s could mean 0–255 or a mistake; guessing would silently whiten or darken it.
        raise InputError(f"an image tensor must be uint8 (0–255) or float (0–1), got {t.dtype}")
    if t.dtype != torch.uint8:
        t = t.float()
        if not torch.isfinite(t).all():
            raise InputError("the image tensor holds NaN or infinite values")
        t = (t.clamp(0, 1) * 255).round().to(torch.uint8)  # torchvision's convention: floats in [0, 1]
    return t.permute(1, 2, 0).numpy()


def write_image(path: str | os.PathLike, rgb: np.ndarray, alpha: np.ndarray | None = None, quality: int = 95) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename).

    The format follows the file extension. Alpha is kept for formats that hold it (PNG, WebP, TIFF) and
    dropped for the others (JPEG).

    Raises:
        InputError: the extension is not an image format Pillow can write.
        OutputError: the folder cannot be made or written (read-only, full disk, …).
    """
    return write_images([(path, rgb, alpha)], quality)[0]


def write_images(
    items: Sequence[tuple[str | os.PathLike, np.ndarray, np.ndarray | None]], quality: int = 95
) -> list[Path]:
    """Write several images (path, rgb, alpha) all or nothing: each is encoded into a temporary file beside
    its target, and only when every one is written are they renamed into place — a full disk or a bad
    extension part-way leaves none of them (and no temporary file).

    Raises:
        InputError: an extension is not an image format Pillow can write.
        OutputError: a folder cannot be made or written.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for path, rgb, alpha in items:
            staged.append((_stage_image(Path(path), rgb, alpha, quality), Path(path)))
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    try:
        for temporary, path in staged:
            os.replace(temporary, path)
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)  # only those a failed rename left behind
    return [path for _, path in staged]


def encode_image(rgb: np.ndarray, suffix: str, alpha: np.ndarray | None = None, quality: int = 95) -> bytes:
    """The bytes of an image file of the format ``suffix`` names (``.jpg``, ``.png``, …): what ``write_image``
    writes, for callers that store the file themselves (batch engines, buckets).

    Raises:
        InputError: the suffix names no format Pillow can write.
    """
    check_shape(rgb, "H W 3", "rgb")
    fmt = Image.registered_extensions().get(suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise InputError(f"unknown image extension {suffix!r}; use .png, .jpg or .webp")
    im = Image.fromarray(rgb, mode="RGB")
    if alpha is not None and fmt in _ALPHA_FORMATS:
        im.putalpha(Image.fromarray(alpha, mode="L"))
    params = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    buffer = io.BytesIO()
    im.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def _stage_image(path: Path, rgb: np.ndarray, alpha: np.ndarray | None, quality: int) -> Path:
    """Encode the image into a new temporary file beside ``path``; return the temporary file."""
    try:
        data = encode_image(rgb, path.suffix, alpha, quality)
    except InputError:
        raise InputError(f"{path}: unknown image extension {path.suffix!r}; use .png, .jpg or .webp") from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _write_temporary(path, lambda f: f.write(data))
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def atomic_write(path: Path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path`` and rename it into place."""
    temporary = _write_temporary(path, write)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """A new temporary path beside ``path`` (same suffix) for writers that want a file name (PyAV, the ONNX
    exporter): renamed over ``path`` when the block ends without an error, removed when it raises, so no
    half-written file ever carries the final name.

    Raises:
        OutputError: the folder cannot be made or written.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, new_file_mode())  # mkstemp makes it private; outputs follow the umask
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # only when the block or the rename failed


def _write_temporary(path: Path, write) -> Path:
    """Call ``write(file_object)`` on a new temporary file beside ``path`` (synced); removed on failure."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, new_file_mode())  # mkstemp makes 0600 files; outputs should follow the umask
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``H W 3`` uint8 → ``3 H W`` float32 in [-1, 1]."""
    check_shape(rgb, "H W 3", "rgb")
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``B 3 H W`` float in [-1, 1] → ``B H W 3`` uint8."""
    check_shape(images, "B 3 H W", "images")
    scaled = images.detach().float().clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()
