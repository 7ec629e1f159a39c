"""The styles contact sheet (`gpdface styles --gallery`) and the listing's licence and origin columns."""

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app
from gpdface.gallery import LABEL_HEIGHT, style_gallery
from gpdface.manifest import load_manifest
from gpdface.style import embedded_styles_dir, user_styles_dir

runner = CliRunner()


def test_sheet_holds_each_photo_then_each_style(astronaut, grace_hopper, detector, tmp_path):
    test_style = make_style(tmp_path, "teststyle")
    gallery = style_gallery([astronaut, grace_hopper], [embedded_styles_dir() / "sketch", test_style],
                            detector=detector, tile=128)  # fmt: skip
    assert gallery.styles == ["sketch", "teststyle"] and not gallery.skipped
    width = 128  # every image fitted into a 128 px square cell (the astronaut is square)
    assert gallery.sheet.shape == (LABEL_HEIGHT + 2 * 128, 3 * width, 3)
    first = gallery.sheet[LABEL_HEIGHT : LABEL_HEIGHT + 128, :width].astype(float)
    photo = np.asarray(Image.fromarray(astronaut).resize((width, 128), Image.Resampling.LANCZOS), float)
    assert np.abs(first - photo).mean() < 2  # column 1 is the photo itself
    sketch = gallery.sheet[LABEL_HEIGHT : LABEL_HEIGHT + 128, width : 2 * width].astype(float)
    assert np.abs(sketch - photo).mean() > 10  # column 2 is the photo drawn in the style
    portrait = gallery.sheet[LABEL_HEIGHT + 128 :, :width]  # Grace Hopper (taller than wide) is letterboxed
    assert (portrait[:, :5] == 255).all() and (portrait[:, -5:] == 255).all()


def test_a_broken_style_is_left_off_with_its_reason(astronaut, detector, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "style.json").write_text("[]")
    gallery = style_gallery([astronaut], [embedded_styles_dir() / "sketch", broken], detector=detector, tile=64)
    assert gallery.styles == ["sketch"] and set(gallery.skipped) == {"broken"}


def test_styles_gallery_command(astronaut, with_detector, tmp_path):
    make_style(user_styles_dir(), "teststyle")
    Image.fromarray(astronaut).save(tmp_path / "astronaut.png")
    out = tmp_path / "sheet.png"
    result = runner.invoke(app, ["styles", "--gallery", str(out), "--photo", str(tmp_path / "astronaut.png")])
    assert result.exit_code == 0, result.output
    embedded = sum(1 for entry in load_manifest().styles.values() if entry.embedded)
    assert f"{embedded + 1} style(s) on 1 photo(s)" in result.stdout and Image.open(out).size[1] == LABEL_HEIGHT + 256
    again = runner.invoke(app, ["styles", "--gallery", str(out), "--photo", str(tmp_path / "astronaut.png")])
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    no_photo = runner.invoke(app, ["styles", "--gallery", str(tmp_path / "x.png")])
    assert no_photo.exit_code == 2 and "--photo" in no_photo.stderr
    stray = runner.invoke(app, ["styles", "--photo", str(tmp_path / "astronaut.png")])
    assert stray.exit_code == 2 and "--gallery" in stray.stderr


def test_listing_says_what_the_embedded_style_was_made_from_and_its_licence():
    result = runner.invoke(app, ["styles", "--json"])
    assert result.exit_code == 0, result.output
    sketch = next(row for row in json.loads(result.stdout) if row["name"] == "sketch")
    assert sketch["made_from"] == "268 exemplar pairs, no teacher"
    assert "research use" in sketch["license"]


def test_piped_listing_keeps_each_style_on_one_line():
    result = runner.invoke(app, ["styles"])
    assert result.exit_code == 0
    assert any("sketch" in line and "research use only" in line for line in result.stdout.splitlines())
