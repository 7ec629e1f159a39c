import numpy as np
import pytest
import torch
from PIL import Image

from gpdface.errors import InputError
from gpdface.imageio import read_image, to_tensor, to_uint8, write_image


@pytest.fixture
def rgb():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)


def test_reads_rgb_file_exactly(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert np.array_equal(loaded.rgb, rgb)
    assert loaded.alpha is None
    assert loaded.source == str(tmp_path / "a.png")
    assert loaded.size == (60, 40)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1"])
def test_modes_become_rgb(tmp_path, rgb, mode):
    path = tmp_path / ("a.tif" if mode == "CMYK" else "a.png")
    Image.fromarray(rgb).convert(mode).save(path)
    loaded = read_image(path)
    assert loaded.rgb.shape == (40, 60, 3) and loaded.rgb.dtype == np.uint8
    assert loaded.alpha is None
    if mode == "L":  # grey: three equal channels
        assert np.array_equal(loaded.rgb[..., 0], loaded.rgb[..., 2])


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_kept(tmp_path, rgb, mode):
    alpha = np.tile(np.arange(60, dtype=np.uint8) * 4, (40, 1))
    im = Image.fromarray(rgb).convert("RGBA")
    im.putalpha(Image.fromarray(alpha))
    im.convert(mode).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert np.array_equal(loaded.alpha, alpha)
    assert loaded.rgb.shape == (40, 60, 3)


def test_palette_with_transparency_keeps_alpha(tmp_path):
    im = Image.new("P", (10, 10), 0)
    im.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    im.putpixel((3, 3), 1)
    im.info["transparency"] = 0
    im.save(tmp_path / "p.png", transparency=0)
    loaded = read_image(tmp_path / "p.png")
    assert loaded.alpha is not None and loaded.alpha[3, 3] == 255 and loaded.alpha[0, 0] == 0
    assert tuple(loaded.rgb[3, 3]) == (0, 255, 0)


def test_16_bit_grey_keeps_its_range(tmp_path):
    ramp = np.tile(np.linspace(0, 65535, 64).astype(np.uint16), (8, 1))
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    loaded = read_image(tmp_path / "g16.png")
    assert loaded.rgb[0, 0, 0] == 0 and loaded.rgb[0, -1, 0] == 255
    assert np.all(np.diff(loaded.rgb[0, :, 0].astype(int)) >= 0)


def test_exif_orientation_is_applied(tmp_path, rgb):
    im = Image.fromarray(rgb)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    im.save(tmp_path / "r.jpg", exif=exif, quality=100)
    loaded = read_image(tmp_path / "r.jpg")
    assert loaded.rgb.shape == (60, 40, 3)


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        read_image(tmp_path / "empty.jpg")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("hello")
    with pytest.raises(InputError, match="not an image"):
        read_image(tmp_path / "notes.jpg")


def test_truncated_jpeg(tmp_path, rgb):
    Image.fromarray(np.repeat(np.repeat(rgb, 8, 0), 8, 1)).save(tmp_path / "full.jpg")
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match="damaged or truncated"):
        read_image(tmp_path / "cut.jpg")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_pixel_limit_refuses_before_decoding(tmp_path):
    Image.new("L", (4000, 3000)).save(tmp_path / "big.png")
    with pytest.raises(InputError, match="exceeds the limit"):
        read_image(tmp_path / "big.png", max_pixels=10_000_000)
    assert read_image(tmp_path / "big.png", max_pixels=12_000_000).size == (4000, 3000)


def test_array_pil_and_tensor_inputs_agree(rgb):
    from_array = read_image(rgb).rgb
    from_pil = read_image(Image.fromarray(rgb)).rgb
    from_uint8_tensor = read_image(torch.from_numpy(rgb).permute(2, 0, 1)).rgb
    from_float_tensor = read_image(torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255).rgb
    for other in (from_pil, from_uint8_tensor, from_float_tensor):
        assert np.array_equal(from_array, other)


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (torch.full((3, 4, 4), 200, dtype=torch.int64), "uint8 .0–255. or float .0–1., got torch.int64"),
        (torch.ones(3, 4, 4, dtype=torch.bool), "got torch.bool"),
        (torch.full((3, 4, 4), float("nan")), "NaN or infinite"),
        (torch.full((3, 4, 4), float("inf")), "NaN or infinite"),
    ],
)
def test_integer_and_non_finite_tensors_are_refused_not_guessed(tensor, message):
    """An int64 tensor of 200s used to come back white (clipped as a float); NaN used to become black."""
    with pytest.raises(InputError, match=message):
        read_image(tensor)


@pytest.mark.parametrize(
    "bad", [np.zeros((4, 4, 2), np.uint8), np.zeros((4, 4, 3), np.float32), np.zeros((2, 4, 4, 3), np.uint8)]
)
def test_bad_arrays_are_refused(bad):
    with pytest.raises(InputError):
        read_image(bad)


def test_write_is_atomic_and_keeps_alpha_in_png(tmp_path, rgb):
    alpha = np.full(rgb.shape[:2], 77, np.uint8)
    write_image(tmp_path / "o.png", rgb, alpha)
    back = read_image(tmp_path / "o.png")
    assert np.array_equal(back.rgb, rgb) and np.array_equal(back.alpha, alpha)
    write_image(tmp_path / "o.jpg", rgb, alpha)  # JPEG cannot hold alpha: dropped, no error
    assert read_image(tmp_path / "o.jpg").alpha is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.jpg", "o.png"]  # no temporary files left


def test_failed_write_leaves_old_file_untouched(tmp_path, rgb, monkeypatch):
    write_image(tmp_path / "o.png", rgb)
    before = (tmp_path / "o.png").read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(OSError):
        write_image(tmp_path / "o.png", rgb[::-1])
    assert (tmp_path / "o.png").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["o.png"]


def test_unknown_extension(tmp_path, rgb):
    with pytest.raises(InputError, match="extension"):
        write_image(tmp_path / "o.xyz", rgb)


def test_tensor_round_trip(rgb):
    t = to_tensor(rgb)
    assert t.shape == (3, 40, 60) and t.min() >= -1 and t.max() <= 1
    assert np.array_equal(to_uint8(t[None])[0], rgb)


def test_written_files_follow_the_umask(tmp_path, rgb):
    import os
    import stat

    old = os.umask(0o022)
    try:
        write_image(tmp_path / "o.png", rgb)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "o.png").stat().st_mode) == 0o644


def _closed_image():
    image = Image.new("RGB", (8, 8))
    image.close()
    return image


@pytest.mark.parametrize(
    "make",
    [
        _closed_image,
        lambda: torch.zeros(3, 8, 8, device="meta"),
        lambda: torch.zeros(3, 8, 8).to_sparse(),
        lambda: "x" * 5000 + ".png",
    ],
    ids=["closed PIL image", "meta tensor", "sparse tensor", "5000-character path"],
)
def test_inputs_in_odd_states_are_one_line_input_errors(make):
    with pytest.raises(InputError) as info:
        read_image(make())
    assert "\n" not in str(info.value)


def test_a_grey_alpha_image_is_read():
    assert read_image(Image.new("LA", (8, 8))).rgb.shape == (8, 8, 3)


def test_several_images_are_written_all_or_nothing(tmp_path, rgb, monkeypatch):
    """`--output both` on a full disk used to leave the pasted photo without its crops."""
    from gpdface import imageio
    from gpdface.errors import OutputError
    from gpdface.imageio import write_images

    with pytest.raises(InputError, match="unknown image extension"):
        write_images([(tmp_path / "photo.png", rgb, None), (tmp_path / "crop.xyz", rgb, None)])
    assert list(tmp_path.iterdir()) == []  # neither the photo nor a temporary file
    real, calls = imageio._write_temporary, []

    def full_disk_on_the_second(path, write):
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(path, write)

    monkeypatch.setattr(imageio, "_write_temporary", full_disk_on_the_second)
    with pytest.raises(OutputError, match="No space left"):
        write_images([(tmp_path / "photo.png", rgb, None), (tmp_path / "crop_0.png", rgb, None)])
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(imageio, "_write_temporary", real)
    written = write_images([(tmp_path / "photo.png", rgb, None), (tmp_path / "crop_0.png", rgb, None)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crop_0.png", "photo.png"] == sorted(p.name for p in written)


def test_corrupt_metadata_is_read_silently_in_jpeg_png_and_tiff(tmp_path):
    """The pixels decode; Pillow's warnings about metadata used to print several stderr lines."""
    import io
    import struct
    import warnings
    import zlib

    from PIL import TiffImagePlugin

    garbage = b"MM\x00*garbage!!"
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.jpg", exif=b"Exif\x00\x00" + garbage)
    png = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(png, "PNG")
    body = png.getvalue()
    chunk = struct.pack(">I", len(garbage)) + b"eXIf" + garbage + struct.pack(">I", zlib.crc32(b"eXIf" + garbage))
    (tmp_path / "a.png").write_bytes(body[:33] + chunk + body[33:])  # after the signature and IHDR
    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[0x8769] = 0  # an EXIF directory "at offset 0": Pillow reads the header as tags, one warning each
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.tif", compression="tiff_lzw", tiffinfo=tags)
    for name in ("a.jpg", "a.png", "a.tif"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            image = read_image(tmp_path / name).rgb
        assert image.shape == (8, 8, 3) and image[..., 0].mean() > 200


def test_replaced_on_success_renames_only_a_finished_file(tmp_path):
    from gpdface.imageio import replaced_on_success

    target = tmp_path / "out" / "clip.mp4"
    with pytest.raises(RuntimeError), replaced_on_success(target) as temporary:
        assert temporary.parent == target.parent and temporary.suffix == ".mp4"
        temporary.write_bytes(b"half")
        raise RuntimeError("interrupted")
    assert list(target.parent.iterdir()) == []
    with replaced_on_success(target) as temporary:
        temporary.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and list(target.parent.iterdir()) == [target]


def test_a_damaged_tiff_is_one_line_with_nothing_on_stderr(tmp_path, capfd):
    """libtiff writes each damaged strip's complaint to the process's stderr itself (180 lines for one
    file were seen): those go into the one error line instead."""
    from PIL import TiffImagePlugin

    image = (np.random.default_rng(0).random((200, 100, 3)) * 255).astype(np.uint8)
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[278] = 2  # two rows per strip: many strips
    Image.fromarray(image).save(tmp_path / "a.tif", compression="tiff_adobe_deflate", tiffinfo=info)
    data = bytearray((tmp_path / "a.tif").read_bytes())
    for index in range(400, len(data) - 3000, 37):
        data[index] ^= 0x5A
    (tmp_path / "bad.tif").write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(InputError, match="damaged or truncated") as caught:
        read_image(tmp_path / "bad.tif")
    assert "\n" not in str(caught.value)
    assert capfd.readouterr().err == ""


def test_running_out_of_memory_while_decoding_is_one_line(tmp_path, monkeypatch, grace_hopper):
    Image.fromarray(grace_hopper).save(tmp_path / "p.png")

    def no_memory(self):
        raise MemoryError()

    monkeypatch.setattr(Image.Image, "load", no_memory)
    with pytest.raises(InputError, match=r"not enough memory to decode a 512×600 image"):
        read_image(tmp_path / "p.png")
