"""The perceptual term is used only when VGG-16 weights are already on disk; nothing is downloaded."""

import pytest
import torch

from gpdface.train.perceptual import VGG16_FILE, PerceptualLoss, find_vgg16_weights


@pytest.fixture
def fake_vgg(tmp_path, monkeypatch):
    """Randomly initialised VGG-16 weights under the real file name — to exercise the code path only."""
    from torchvision.models import vgg16

    torch.manual_seed(0)
    torch.save(vgg16().state_dict(), tmp_path / VGG16_FILE)
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(tmp_path))
    return tmp_path / VGG16_FILE


def test_absent_weights_mean_no_perceptual_term(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    assert find_vgg16_weights() is None
    assert PerceptualLoss.if_available() is None


def test_loss_when_weights_are_present(fake_vgg, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    loss = PerceptualLoss.if_available()
    assert loss is not None
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    assert float(loss(x, x)) == 0
    y = x.clone().requires_grad_(True)
    value = loss(y, -x)
    value.backward()
    assert value > 0 and y.grad.abs().sum() > 0
