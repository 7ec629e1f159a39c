import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import asset
from gpdface.errors import OfflineError, WeightsError
from gpdface.train.teachers import DCGANTeacher, load_teacher


@pytest.fixture
def teacher(monkeypatch):
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(asset("teachers/dcgan64_digiface.safetensors").parent))
    return load_teacher("dcgan64")


def test_reproduces_the_published_outputs(teacher):
    cases = load_file(asset("teachers/dcgan64_digiface_cases.safetensors"))
    with torch.no_grad():
        images = teacher.synthesis(cases["z"].view(8, 100))
    torch.testing.assert_close(images, cases["images"], atol=1e-5, rtol=0)


def test_batchnorm_stays_in_eval_mode(teacher):
    teacher.train()
    z = teacher.sample_latents(4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        a = teacher.synthesis(z)
        b = teacher.synthesis(z[:1])
    torch.testing.assert_close(a[:1], b, atol=1e-5, rtol=0)  # no batch statistics involved


def test_interface(teacher):
    assert teacher.resolution == 64 and teacher.latent_shape == (100,)
    assert teacher.template.shape == (5, 2)
    left_eye, right_eye, nose, left_mouth, _ = teacher.template
    assert left_eye[0] < nose[0] < right_eye[0] and nose[1] < left_mouth[1]
    z = teacher.sample_latents(2, torch.Generator().manual_seed(0))
    images, features = teacher.synthesis_with_features(z)
    assert images.shape == (2, 3, 64, 64)
    assert [f.shape[-1] for f in features] == [8, 16, 32]
    assert len(list(teacher.adaptable_parameters())) == 13


def test_missing_weights_say_how_to_get_them():
    with pytest.raises(OfflineError, match="pip install --no-deps gan-face-generate==1.1.1"):
        load_teacher("dcgan64")


def test_unknown_teacher():
    with pytest.raises(WeightsError, match="unknown teacher"):
        load_teacher("biggan")


def test_loads_a_safetensors_path():
    teacher = load_teacher(asset("teachers/dcgan64_digiface.safetensors"))
    assert isinstance(teacher, DCGANTeacher) and np.isfinite(teacher.template).all()
