"""Background policies: parsing, the pencil drawing, and what each does to the photo around the faces."""

import numpy as np
import pytest

from gpdface.background import Background, apply_tone, pencil_drawing, pencil_strength, render_background
from gpdface.errors import WeightsError


def test_parse_and_round_trip():
    assert Background.from_dict("grey", "style.json") == Background("grey")
    pencil = Background("pencil", blur=0.2, shading=0.3, tone=tuple(range(256)))
    assert Background.from_dict(pencil.to_dict(), "style.json") == pencil
    with pytest.raises(WeightsError, match="style.json.*mode"):
        Background.from_dict({"mode": "watercolour"}, "style.json")
    with pytest.raises(WeightsError, match="256 values"):
        Background.from_dict({"mode": "pencil", "tone": [0, 255]}, "style.json")


def test_keep_returns_the_photo_and_grey_is_grey(astronaut):
    assert render_background(astronaut, Background("keep"), 60.0) is astronaut
    grey = render_background(astronaut, Background("grey"), 60.0)
    assert grey.shape == astronaut.shape and (grey[..., 0] == grey[..., 2]).all()
    expected = np.rint(astronaut.astype(np.float64) @ [0.299, 0.587, 0.114])
    assert np.abs(grey[..., 0] - expected).max() <= 1


def test_pencil_is_white_where_flat_and_dark_at_edges():
    photo = np.full((200, 200, 3), 180, np.uint8)
    photo[:, 100:] = 60  # one vertical edge
    drawn = pencil_strength(photo[..., 0].astype(np.float32) / 255, 4.0, 0.0)
    assert drawn[100, 20] == pytest.approx(1.0) and drawn[100, 180] == pytest.approx(1.0)  # flat: paper
    assert drawn[100, 100] < 0.6  # the edge is drawn
    shaded = pencil_strength(photo[..., 0].astype(np.float32) / 255, 4.0, 1.0)
    assert shaded[100, 180] < shaded[100, 20]  # with shading, the dark side stays darker


def test_pencil_tone_curve_and_scale(astronaut):
    inverted = tuple(255 - v for v in range(256))
    values = np.array([0.0, 0.5, 1.0])
    assert apply_tone(values, inverted).tolist() == [255, 127, 0]
    assert apply_tone(values, ()).tolist() == [0, 128, 255]
    near, far = (pencil_drawing(astronaut, d, Background("pencil", blur=0.1)) for d in (20.0, 200.0))
    assert near.shape == astronaut.shape and (near[..., 0] == near[..., 1]).all()
    assert np.abs(near.astype(int) - far.astype(int)).mean() > 2  # the stroke width follows the face size


def test_student_background_needs_the_student(astronaut):
    with pytest.raises(ValueError, match="student"):
        render_background(astronaut, Background("student"), 60.0)
    flipped = render_background(astronaut, Background("student"), 60.0, lambda photo: 255 - photo)
    assert np.array_equal(flipped, 255 - astronaut)


def test_paper_is_a_white_page_of_the_photos_size(astronaut):
    page = render_background(astronaut, Background("paper"), 60.0)
    assert page.shape == astronaut.shape and page.dtype == np.uint8 and (page == 255).all()
    assert Background.from_dict("paper", "style.json").to_dict() == {"mode": "paper"}
