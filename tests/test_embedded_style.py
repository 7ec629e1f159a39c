"""The shipped styles: every embedded style's files match the manifest and it translates a photo; `sketch`
really draws grey pencil sketches."""

import numpy as np
import pytest

from gpdface.hub import sha256_of
from gpdface.manifest import load_manifest
from gpdface.style import embedded_styles_dir, load_style

EMBEDDED = sorted(name for name, entry in load_manifest().styles.items() if entry.embedded)


@pytest.mark.parametrize("name", EMBEDDED)
def test_every_embedded_style_is_pinned_small_and_licensed(name):
    entry = load_manifest().styles[name]
    assert {f.name for f in entry.files} == {"config.json", "model.safetensors", "style.json"}
    for file in entry.files:
        path = embedded_styles_dir() / name / file.name
        assert path.stat().st_size == file.size and sha256_of(path) == file.sha256
    assert entry.file("model.safetensors").size <= 6_000_000  # the catalogue's limit (fp16 weights)
    info = load_style(name).info
    assert info.license and info.provenance["command"].startswith("gpdface finetune")


@pytest.mark.parametrize("name", EMBEDDED)
def test_every_embedded_style_translates_a_photo(with_detector, astronaut, name):
    from gpdface import Translator

    result = Translator(name, device="cpu")(astronaut)
    assert len(result.faces) == 1 and result.image.shape == astronaut.shape
    crop = result.faces[0].crop.astype(float)
    assert crop[64:192, 64:192].std() > 15  # the face is drawn, not a flat fill
    assert np.abs(result.image.astype(float) - astronaut).mean() > 5  # and the picture changed


def test_files_match_the_manifest():
    entry = load_manifest().styles["sketch"]
    assert entry.embedded
    for file in entry.files:
        path = embedded_styles_dir() / "sketch" / file.name
        assert path.stat().st_size == file.size and sha256_of(path) == file.sha256
    assert (embedded_styles_dir() / "sketch" / "model.safetensors").stat().st_size < 5_000_000


def test_style_card_states_data_licence_and_recipe():
    info = load_style("sketch").info
    assert "research use" in info.license and "CUFS" in info.license
    assert info.provenance["command"].startswith("gpdface finetune")
    for split in ("ar/test", "xm2vts/test"):
        metrics = next(v for k, v in info.provenance["metrics"].items() if k.endswith(split))
        # FSIM rewards strokes and edges where they belong; the grey photo itself is the floor to beat
        assert metrics["fsim"] > metrics["fsim_photo"]
        assert 0.0 < metrics["rank1"] <= 1.0  # measured with --identity, so the card can state it
    assert info.background.mode in ("pencil", "student")


def test_it_turns_a_colour_face_into_a_grey_sketch(with_detector, astronaut):
    from gpdface import Translator

    result = Translator("sketch", device="cpu")(astronaut)
    crop = result.faces[0].crop.astype(float)
    assert (crop.max(axis=2) == crop.min(axis=2)).all()  # exactly grey: one output filter, no lavender tint
    centre = crop[64:192, 64:192].mean(axis=2)
    assert centre.std() > 15  # and not flat: the face is drawn
    source = astronaut.astype(float)
    assert (source.max(axis=2) - source.min(axis=2)).mean() > 40
    assert np.isfinite(crop).all()


def test_a_darker_photo_gives_a_darker_drawing(with_detector, astronaut):
    """The first sketch drew dark and light skin alike (its tone response was 0.01)."""
    from gpdface import Translator

    translator = Translator("sketch", device="cpu")
    photo = astronaut.astype(float) / 255.0
    darker = (255.0 * photo**2.0).round().astype(np.uint8)
    light = translator(astronaut).faces[0].crop.astype(float)
    dark = translator(darker).faces[0].crop.astype(float)
    centre = np.s_[96:176, 80:176]  # the skin between the eyes and the mouth
    assert light[centre].mean() - dark[centre].mean() > 20


def test_its_tone_layer_draws_dark_skin_in_graphite(with_detector, tmp_path):
    """The student alone draws dark skin as white paper, as CUFS's artists draw every face."""
    import json
    import shutil

    from conftest import asset
    from gpdface import Translator
    from gpdface.imageio import read_image
    from gpdface.train.evaluation.scores import skin_tone

    info = load_style("sketch").info
    assert info.tone_layer is not None and "tone_layer" in info.provenance  # its metrics include the layer
    bare = shutil.copytree(embedded_styles_dir() / "sketch", tmp_path / "sketch_bare")
    meta = json.loads((bare / "style.json").read_text())
    del meta["tone_layer"]
    (bare / "style.json").write_text(json.dumps(meta))
    for photo, darker_by in (("Serena_Williams_0001.jpg", 30), ("Kofi_Annan_0001.jpg", 30)):
        rgb = read_image(asset(f"faces/lfw-deepfunneled/{photo}")).rgb
        shaded = Translator("sketch", device="cpu")(rgb).faces[0].crop
        paper = Translator(bare, device="cpu")(rgb).faces[0].crop
        assert skin_tone(paper) > 180  # without the layer: light paper
        assert skin_tone(shaded) < skin_tone(paper) - darker_by
