"""The shipped real-face teacher: pinned by the manifest, loadable offline, and it draws faces."""

import numpy as np
import pytest
import torch

from gpdface.errors import ChecksumError
from gpdface.face.align import template_for
from gpdface.imageio import to_uint8
from gpdface.manifest import load_manifest
from gpdface.train.teachers import load_teacher
from gpdface.train.teachers.registry import DEFAULT_TEACHER, embedded_teachers_dir


def test_the_default_teacher_is_embedded_and_pinned():
    entry = load_manifest().teachers[DEFAULT_TEACHER]
    assert entry.embedded and entry.source is None and "research use" in entry.license
    sizes = {f.name: (embedded_teachers_dir() / DEFAULT_TEACHER / f.name).stat().st_size for f in entry.files}
    assert sizes == {f.name: f.size for f in entry.files}
    assert sizes["generator.safetensors"] <= 8_000_000  # the budget for a teacher inside the package


def test_it_loads_offline_and_draws_faces_in_the_ffhq_frame(detector):
    teacher = load_teacher(DEFAULT_TEACHER)
    assert teacher.resolution == 64
    np.testing.assert_allclose(teacher.template, template_for(64), atol=1e-3)
    with torch.no_grad():
        images = to_uint8(teacher.synthesis(teacher.sample_latents(16, torch.Generator().manual_seed(0))))
    faces = 0
    for image in images:
        big = np.ascontiguousarray(np.repeat(np.repeat(image, 4, axis=0), 4, axis=1))
        faces += len([f for f in detector.detect(big) if f.score >= 0.9]) == 1
    assert faces >= 8  # random weights give none; the benchmark measures the rate on 500 samples


def test_a_modified_embedded_file_is_refused(monkeypatch, tmp_path):
    import shutil

    from gpdface.train.teachers import registry

    copy = tmp_path / DEFAULT_TEACHER
    shutil.copytree(embedded_teachers_dir() / DEFAULT_TEACHER, copy)
    (copy / "config.json").write_text((copy / "config.json").read_text().replace('"dcgan"', '"dcgan" '))
    monkeypatch.setattr(registry, "embedded_teachers_dir", lambda: tmp_path)
    with pytest.raises(ChecksumError):
        load_teacher(DEFAULT_TEACHER)


def test_the_recipe_default_is_the_registry_default():
    from gpdface.recipe import FinetuneRecipe

    assert FinetuneRecipe().teacher == DEFAULT_TEACHER
