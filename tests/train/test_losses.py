import numpy as np
import pytest
import torch

from gpdface.train.student.losses import ms_ssim, pixel_loss, ssim


def test_ssim_matches_scikit_image_gaussian_protocol():
    skimage_metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 80)).astype(np.float64)
    b = np.clip(a + rng.normal(0, 30, a.shape), 0, 255)
    reference = skimage_metrics.structural_similarity(
        a, b, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    ours = float(ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None], data_range=255)[0])
    assert ours == pytest.approx(reference, abs=2e-3)  # skimage averages over a slightly larger region


def test_ssim_extremes():
    x = torch.rand(2, 3, 32, 32)
    assert torch.allclose(ssim(x, x), torch.ones(2))
    assert (ssim(x, torch.rand(2, 3, 32, 32)) < 0.2).all()
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-5)


def test_pixel_loss_is_zero_only_for_equal_images_and_has_gradients():
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(pixel_loss(x, x)) == pytest.approx(0, abs=1e-5)
    y = x.clone().requires_grad_(True)
    loss = pixel_loss(y + 0.1, x)
    loss.backward()
    assert loss > 0 and y.grad.abs().sum() > 0


def test_fsim_of_identical_and_different_images():
    pytest.importorskip("piq")
    from gpdface.train.evaluation.scores import grey_fsim

    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    smooth = np.full_like(a, 128)
    assert grey_fsim(a, a) == pytest.approx(1.0, abs=1e-5)
    assert grey_fsim(a, smooth) < 0.9
