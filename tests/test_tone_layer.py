import pytest
import torch

from gpdface.errors import ShapeError, WeightsError
from gpdface.tone_layer import LayeredStudent, ToneLayer, apply_tone_layer, shade


def _photo(skin: float, size: int = 64) -> torch.Tensor:
    """A ``1 3 S S`` photo in [-1, 1]: a white collar along the bottom (the highlights), the rest skin."""
    photo = torch.full((1, 3, size, size), skin)
    photo[..., -size // 4 :, :] = 1.0
    return photo * 2 - 1


def test_only_skin_darker_than_the_knee_is_shaded():
    layer = ToneLayer(knee=0.75, strength=0.5)
    light, dark = shade(_photo(0.85), layer), shade(_photo(0.30), layer)
    assert light.shape == (1, 1, 64, 64)
    assert torch.allclose(light[..., :24, :], torch.ones(1)) and torch.allclose(dark[..., -4:, :], torch.ones(1))
    expected = (0.30 / 0.75) ** 0.5  # skin at 0.30 of the collar's white, knee 0.75
    assert dark[..., :24, :].mean().item() == pytest.approx(expected, abs=0.01)
    assert torch.equal(shade(_photo(0.30), ToneLayer(strength=0.0)), torch.ones(1, 1, 64, 64))


def test_a_dim_photo_is_not_taken_for_dark_skin():
    layer = ToneLayer()
    lit, dim = _photo(0.85), (_photo(0.85) + 1) * 0.5 - 1  # the same light-skinned sitter at half the light
    assert torch.allclose(shade(dim, layer), shade(lit, layer), atol=1e-4)
    assert torch.allclose(shade(dim, layer), torch.ones(1), atol=1e-4)


def test_min_reference_keeps_a_dark_face_on_a_dark_ground_from_passing_for_dim_light():
    photo = torch.full((1, 3, 64, 64), 0.30) * 2 - 1  # dark skin before a dark ground: no highlights at all
    assert torch.allclose(shade(photo, ToneLayer()), torch.ones(1), atol=1e-4)  # relative only: "dim light"
    floored = shade(photo, ToneLayer(min_reference=0.8))
    assert floored.mean().item() == pytest.approx((0.30 / (0.75 * 0.8)) ** 0.5, abs=0.01)


def test_the_layer_multiplies_the_drawing():
    photo, paper = _photo(0.30), torch.full((1, 3, 64, 64), 0.8)  # a drawing that is paper grey 0.9 in [0, 1]
    assert apply_tone_layer(photo, paper, None) is paper
    shaded = apply_tone_layer(photo, paper, ToneLayer())
    factor = shade(photo, ToneLayer())
    assert torch.allclose(shaded.add(1).div(2), paper.add(1).div(2) * factor, atol=1e-6)
    assert shaded[..., 10, 10].max() < 0.8 - 0.3  # the dark skin's paper is now graphite grey
    student = torch.nn.Identity()
    assert torch.allclose(LayeredStudent(student, ToneLayer())(photo), apply_tone_layer(photo, photo, ToneLayer()))
    with pytest.raises(ShapeError, match="drawings"):
        apply_tone_layer(photo, paper[..., :32, :32], ToneLayer())


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("strong", "must be an object"),
        ({"knee": 0.7, "colour": 1}, "must be an object with knee, strength, blur"),
        ({"knee": 0.0}, "0 < knee"),
        ({"strength": -1}, "0 ≤ strength"),
        ({"blur": "wide"}, "tone_layer"),
    ],
)
def test_malformed_entries_are_weights_errors(entry, message):
    with pytest.raises(WeightsError, match=message):
        ToneLayer.from_dict(entry, "style.json")
    assert ToneLayer.from_dict(None, "style.json") is None
    assert ToneLayer.from_dict({"knee": 0.6}, "style.json") == ToneLayer(knee=0.6)
