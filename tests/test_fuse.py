"""Folding batch normalisation into convolutions: same outputs, no normalisation left."""

import torch
from torch import nn

from gpdface.nets import StudentConfig, StudentNet
from gpdface.nets.fuse import fold_batchnorm


def _trained_statistics(model: nn.Module) -> nn.Module:
    """Give every normalisation non-trivial running statistics and affine parameters, as training would."""
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            channels = module.num_features
            module.running_mean.copy_(torch.randn(channels, generator=generator))
            module.running_var.copy_(torch.rand(channels, generator=generator) + 0.2)
            if module.affine:
                module.weight.data.copy_(torch.randn(channels, generator=generator))
                module.bias.data.copy_(torch.randn(channels, generator=generator))
    return model.eval()


def test_a_folded_student_draws_the_same_and_has_no_normalisation_left():
    model = _trained_statistics(StudentNet(StudentConfig(resolution=64, channels=(8, 16, 32), res_blocks=2)))
    folded = fold_batchnorm(model)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(folded(x), model(x), atol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched
    assert folded.config == model.config


def test_grouped_biased_and_plain_normalisations_fold_exactly():
    net = nn.Sequential(
        nn.Conv2d(4, 8, 3, padding=1, bias=True),
        nn.BatchNorm2d(8),
        nn.LeakyReLU(0.1),
        nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),  # depthwise, as in RetinaFace's MobileNet
        nn.BatchNorm2d(8, affine=False),
        nn.Conv2d(8, 2, 1),
    )
    net = _trained_statistics(net)
    folded = fold_batchnorm(net)
    x = torch.randn(3, 4, 20, 20)
    with torch.no_grad():
        assert torch.allclose(folded(x), net(x), atol=1e-5)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "Identity", "LeakyReLU", "Conv2d", "Identity", "Conv2d"]


def test_a_normalisation_not_after_a_convolution_is_kept():
    net = _trained_statistics(nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1), nn.ReLU(), nn.BatchNorm2d(3)))
    folded = fold_batchnorm(net)
    assert [type(m).__name__ for m in folded] == ["BatchNorm2d", "Conv2d", "ReLU", "BatchNorm2d"]
