"""Projection, adaptation and paired augmentation on the DCGAN teacher, with tiny step counts."""

import pytest
import torch
from safetensors.torch import load_file

from conftest import asset
from gpdface.errors import InputError
from gpdface.train.data.pairs import align_images, find_shots
from gpdface.train.gpd.adapt import CHECKPOINT, AdaptConfig, adapt, correspondence_loss
from gpdface.train.gpd.diagnostics import adaptation_report
from gpdface.train.gpd.invert import is_grey, project
from gpdface.train.student.augment_ops import diff_augment
from gpdface.train.teachers import load_teacher


@pytest.fixture(scope="module")
def teacher():
    return load_teacher(asset("teachers/dcgan64_digiface.safetensors"))


@pytest.fixture(scope="module")
def sketches(detector):
    folder = asset("cufs/cuhk/train/sketches")
    paths = sorted(folder.iterdir())[:3]
    crops = align_images(paths, detector, 64, load_teacher(asset("teachers/dcgan64_digiface.safetensors")).template)
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1


def test_projection_reconstructs_a_generated_face(teacher):
    torch.manual_seed(0)
    with torch.no_grad():
        target = teacher.synthesis(teacher.sample_latents(1, torch.Generator().manual_seed(5)))
    result = project(teacher, target, steps=60, candidates=32)
    assert result.latents.shape == (1, 100)
    start = project(teacher, target, steps=0, candidates=32).errors
    assert result.errors[0] < start[0]  # optimisation improves on the best random start
    assert result.errors[0] < 0.2


def test_sketches_are_compared_in_grey(sketches, teacher):
    assert is_grey(sketches).all()
    result = project(teacher, sketches, steps=5, candidates=8)
    assert result.reconstructions.shape == sketches.shape
    assert all(p.requires_grad for p in teacher.parameters())  # the teacher was left as found


def test_correspondence_loss_is_zero_for_identical_features_only():
    torch.manual_seed(0)
    features = [torch.randn(4, 8, 5, 5), torch.randn(4, 16, 3, 3)]
    assert float(correspondence_loss(features, features)) == pytest.approx(0, abs=1e-6)
    collapsed = [f.clone() for f in features]
    for f in collapsed:
        f[0] = f[1]  # two samples became the same face: their similarity jumps to 1
    assert float(correspondence_loss(features, collapsed)) > 0.01


def test_diff_augment_is_differentiable_and_changes_images():
    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x * 2 - 1, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x * 2 - 1)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_adaptation_moves_toward_the_targets_and_resumes(teacher, sketches, tmp_path):
    anchors = project(teacher, sketches, steps=5, candidates=8).latents
    config = AdaptConfig(steps=4, batch_size=4, checkpoint_every=2, sample_every=2)
    adapted = adapt(teacher, sketches, anchors, config, tmp_path)
    with torch.no_grad():
        before = (teacher.synthesis(anchors) - sketches).abs().mean()
        after = (adapted.synthesis(anchors) - sketches).abs().mean()
    assert after < before
    assert (tmp_path / CHECKPOINT).is_file() and (tmp_path / "adapt_000004.png").is_file()
    # G_s is untouched by adaptation.
    reference = load_file(asset("teachers/dcgan64_digiface.safetensors"))
    assert torch.equal(teacher.state_dict()["main.0.weight"], reference["main.0.weight"])
    # Resuming a finished run does no more steps and gives the same weights.
    again = adapt(teacher, sketches, anchors, config, tmp_path, resume=True)
    assert torch.equal(again.state_dict()["main.12.weight"], adapted.state_dict()["main.12.weight"])
    report = adaptation_report(teacher, adapted, sketches, samples=8)
    assert set(report) >= {"structure_ssim_matched", "structure_ssim_shuffled", "nearest_exemplar_l1_min"}


def test_shot_count_limits(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError, match="1–10 exemplars"):
        find_shots(tmp_path / "none")
    many = tmp_path / "many"
    many.mkdir()
    for i in range(11):
        (many / f"{i}.png").write_bytes(b"")
    with pytest.raises(InputError, match="holds 11"):
        find_shots(many)
    assert len(find_shots(many, limit=(1, 11))) == 11
