import numpy as np
import pytest
import torch

from gpdface.train.data.pairs import AlignedPairs
from gpdface.train.evaluation.scores import _paste_in_frame, grey_fsim, grey_scores, grey_ssim, sketch_through_frame


def test_grey_scores_equal_the_one_by_one_metrics():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, shape, dtype=np.uint8) for shape in [(60, 50, 3)] * 5 + [(40, 48, 3)]]
    noisy = [np.clip(i.astype(int) + rng.integers(-50, 50, i.shape), 0, 255).astype(np.uint8) for i in images]
    one_by_one = {
        "ssim": [grey_ssim(a, b) for a, b in zip(images, noisy, strict=True)],
        "fsim": [grey_fsim(a, b) for a, b in zip(images, noisy, strict=True)],
    }
    for batch in (4, 32):  # 4 on a CPU, 32 on CUDA (mean_grey_scores): each image is scored on its own either way
        scores = grey_scores(images, noisy, batch=batch, device=torch.device("cpu"))
        assert scores["ssim"] == pytest.approx(one_by_one["ssim"], abs=1e-12)
        assert scores["fsim"] == pytest.approx(one_by_one["fsim"], abs=1e-5)


def test_scores_compare_grey_values_not_colours():
    rng = np.random.default_rng(1)
    grey = rng.integers(60, 190, (60, 50), dtype=np.uint8).astype(float)
    neutral = np.stack([grey] * 3, axis=-1).astype(np.uint8)
    # the same luma (0.299 R + 0.587 G + 0.114 B) in colour: +40 red, −20.4 green
    tinted = np.clip(np.stack([grey + 40, grey - 40 * 0.299 / 0.587, grey], axis=-1).round(), 0, 255).astype(np.uint8)
    assert np.abs(tinted.astype(int) - neutral).max() >= 20  # far apart in RGB …
    assert grey_ssim(neutral, tinted) > 0.99 and grey_fsim(neutral, tinted) > 0.99  # … the same drawing in grey


def test_outside_the_crop_the_result_keeps_the_grey_photo():
    photo = np.zeros((100, 80, 3), np.uint8)
    photo[..., 0] = 200  # red: grey value 0.299 * 200 = 59.8
    crop = np.full((32, 32, 3), 255, np.uint8)
    matrix = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, -30.0]])  # the crop is photo[30:62, 20:52]
    pasted = _paste_in_frame(crop, photo, matrix)
    assert pasted.shape == photo.shape
    assert (pasted[40, 30] == 255).all()  # inside: the stylized crop
    assert (pasted[5, 5] == 60).all() and (pasted[90, 70] == 60).all()  # outside: grey photo, all channels


def _pairs_with_crop(size: int, photo: np.ndarray, sketch: np.ndarray) -> AlignedPairs:
    height, width = photo.shape[:2]
    matrix = np.array([[size / width, 0.0, 0.0], [0.0, size / height, 0.0]])  # the whole photo is the crop
    return AlignedPairs(["a"], [photo], [sketch], [matrix], size)


def test_sketch_through_frame_loses_only_what_the_crop_resolution_loses():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (96, 96, 3), dtype=np.uint8)
    sketch = np.repeat(rng.integers(0, 255, (96, 96, 1), dtype=np.uint8), 3, axis=2)  # fine detail everywhere
    pairs = _pairs_with_crop(24, photo, sketch)
    same_size = sketch_through_frame(pairs, crop_size=96)[0]
    small = sketch_through_frame(pairs)[0]
    assert grey_ssim(same_size, sketch) > 0.99  # a crop as fine as the photo loses nothing
    assert grey_ssim(small, sketch) < 0.5  # a 4× smaller crop cannot hold per-pixel detail


def test_tone_response_tells_a_tone_blind_style_from_a_faithful_one(detector):
    from conftest import IdentityNet, asset
    from gpdface.face.align import template_for
    from gpdface.train.data.pairs import align_pairs, find_pairs
    from gpdface.train.evaluation.scores import tone_response

    pairs = align_pairs(find_pairs(asset("cufs/ar/test"))[:3], detector, 128, template_for(128))
    device = torch.device("cpu")
    assert tone_response(IdentityNet(), pairs, device) == pytest.approx(1.0, abs=0.02)

    class Flat(torch.nn.Module):  # draws the same grey whatever the photo
        def forward(self, x):
            return torch.zeros_like(x)

    assert abs(tone_response(Flat(), pairs, device)) < 1e-6


def test_tone_across_faces_tells_a_tone_blind_style_from_a_faithful_one():
    from conftest import IdentityNet
    from gpdface.errors import ShapeError
    from gpdface.train.evaluation.scores import tone_across_faces

    rng = np.random.default_rng(2)
    tones = np.linspace(40, 220, 20)  # twenty "people", dark to light skin
    crops = np.clip(tones[:, None, None, None] + rng.normal(0, 8, (20, 32, 32, 3)), 0, 255).astype(np.uint8)
    device = torch.device("cpu")
    faithful = tone_across_faces(IdentityNet(), crops, device)
    assert faithful.faces == 20
    assert faithful.slope == pytest.approx(1.0, abs=0.01)
    assert faithful.darkest[1] == pytest.approx(faithful.darkest[0], abs=0.5)  # the darkest two, drawn as dark
    assert faithful.darkest[0] < 60 and faithful.lightest[0] > 200
    assert faithful.lightest[1] == pytest.approx(faithful.lightest[0], abs=0.5)

    class Whitening(torch.nn.Module):  # draws every face near paper white, darker photos hardly darker
        def forward(self, x):
            return 0.9 + 0.05 * x

    blind = tone_across_faces(Whitening(), crops, device)
    assert blind.slope == pytest.approx(0.05, abs=0.01)
    assert blind.darkest[1] > 235 and blind.lightest[1] - blind.darkest[1] < 10
    with pytest.raises(ShapeError, match="at least 10"):
        tone_across_faces(IdentityNet(), crops[:5], device)
    with pytest.raises(ShapeError, match="N S S 3"):
        tone_across_faces(IdentityNet(), crops[..., 0], device)


def test_skin_tone_is_the_paper_between_the_strokes():
    from gpdface.train.evaluation.scores import skin_tone

    drawing = np.full((64, 64, 3), 230, np.uint8)
    drawing[::3] = 20  # a third of the rows are strokes: the mean falls to about 160, the skin stays 230
    assert drawing.mean() < 165 and skin_tone(drawing) == 230
