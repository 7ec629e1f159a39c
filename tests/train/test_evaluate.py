import numpy as np
import pytest

from gpdface.train.evaluate import _paste_in_frame, grey_fsim, grey_scores, grey_ssim


def test_grey_scores_equal_the_one_by_one_metrics():
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, shape, dtype=np.uint8) for shape in [(60, 50, 3)] * 5 + [(40, 48, 3)]]
    noisy = [np.clip(i.astype(int) + rng.integers(-50, 50, i.shape), 0, 255).astype(np.uint8) for i in images]
    scores = grey_scores(images, noisy)
    assert scores["ssim"] == pytest.approx([grey_ssim(a, b) for a, b in zip(images, noisy, strict=True)], abs=1e-12)
    assert scores["fsim"] == pytest.approx([grey_fsim(a, b) for a, b in zip(images, noisy, strict=True)], abs=1e-5)


def test_outside_the_crop_the_result_keeps_the_grey_photo():
    photo = np.zeros((100, 80, 3), np.uint8)
    photo[..., 0] = 200  # red: grey value 0.299 * 200 = 59.8
    crop = np.full((32, 32, 3), 255, np.uint8)
    matrix = np.array([[1.0, 0.0, -20.0], [0.0, 1.0, -30.0]])  # the crop is photo[30:62, 20:52]
    pasted = _paste_in_frame(crop, photo, matrix)
    assert pasted.shape == photo.shape
    assert (pasted[40, 30] == 255).all()  # inside: the stylized crop
    assert (pasted[5, 5] == 60).all() and (pasted[90, 70] == 60).all()  # outside: grey photo, all channels
