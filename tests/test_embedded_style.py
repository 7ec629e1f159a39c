"""The shipped `sketch` style: its files match the manifest, and it really draws grey pencil sketches."""

import numpy as np

from gpdface.hub import sha256_of
from gpdface.manifest import load_manifest
from gpdface.style import embedded_styles_dir, load_style


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
    spread = (crop.max(axis=2) - crop.min(axis=2)).mean()
    assert spread < 12  # nearly grey; a random or colour network would not be
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
