import dataclasses
import inspect
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from typer.testing import CliRunner

from gpdface.cli import app
from gpdface.cli.finetune_cmd import pretrain_teacher
from gpdface.errors import InputError, UsageError
from gpdface.face.align import template_for
from gpdface.train.data.faceset import (
    align_collection,
    align_unseen_people,
    identity_holdout,
    list_photos,
    load_aligned,
    write_aligned,
)
from gpdface.train.teachers import DCGANTeacher, load_teacher
from gpdface.train.teachers.dcgan import dcgan_channels, dcgan_generator, generator_resolution, generator_shape
from gpdface.train.teachers.pretrain import PretrainConfig, dcgan_discriminator, grown_generator, pretrain_gan


@pytest.fixture
def face_folder(tmp_path, astronaut, grace_hopper, two_faces, no_face):
    """Eight photos of two people, one photo with two faces, one with none, one not an image."""
    folder = tmp_path / "faces"
    for person, image in (("Eileen_Collins", astronaut), ("Grace_Hopper", grace_hopper)):
        (folder / person).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(np.ascontiguousarray(image[:, ::-1] if i % 2 else image)).save(
                folder / person / f"{person}_{i + 1:04d}.jpg"
            )
    Image.fromarray(two_faces).save(folder / "Both_0001.jpg")
    Image.fromarray(no_face).save(folder / "Nobody_0001.jpg")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_align_collection_skips_and_lists_what_it_cannot_use(face_folder, detector, tmp_path):
    template = template_for(64)
    faces = align_collection(face_folder, tmp_path / "cache", detector, 64, template)
    assert len(faces) == 8 and faces.images.shape == (8, 64, 64, 3) and faces.images.dtype == np.uint8
    reasons = dict(faces.skipped)
    assert reasons["Both_0001.jpg"].startswith("2 faces") and reasons["Nobody_0001.jpg"].startswith("0 faces")
    assert reasons["broken.jpg"].startswith("unreadable")
    assert (tmp_path / "cache" / "skipped.tsv").read_text().count("\n") == 3
    # a cached run reads the chunks back without detecting again
    again = align_collection(face_folder, tmp_path / "cache", _NoDetector(), 64, template)
    assert again.names == faces.names and np.array_equal(again.images, faces.images)
    with pytest.raises(UsageError, match="other settings"):
        align_collection(face_folder, tmp_path / "cache", detector, 32, template_for(32))


class _NoDetector:
    def detect(self, rgb):
        raise AssertionError("the cache should have been used")


def test_unseen_people_are_those_outside_the_face_bank(face_folder, detector):
    template = template_for(64)
    # a 2-photo bank takes the first and last photo (Both_0001.jpg, broken.jpg): both people stay out
    unseen = align_unseen_people(face_folder, 2, 3, detector, 64, template)
    assert unseen.names == ["Eileen_Collins/Eileen_Collins_0001.jpg", "Grace_Hopper/Grace_Hopper_0001.jpg"]
    assert unseen.images.shape == (2, 64, 64, 3) and unseen.skipped[0][0] == "Nobody_0001.jpg"
    # a 6-photo bank holds photos of both people, so none of their photos is unseen
    assert not any(
        n.startswith(("Eileen", "Grace")) for n in align_unseen_people(face_folder, 6, 9, detector, 64, template).names
    )
    with pytest.raises(InputError, match="no unseen faces"):
        align_unseen_people(face_folder, 11, 3, detector, 64, template)


def test_list_photos_needs_images(tmp_path):
    with pytest.raises(InputError, match="no images"):
        list_photos(tmp_path)
    with pytest.raises(InputError, match="not a folder"):
        list_photos(tmp_path / "missing")


def test_holdout_takes_whole_people():
    names = [f"P{p:02d}_{i:04d}.jpg" for p in range(40) for i in range(1, 6)]
    held = identity_holdout(names, 30)
    people = {n.rsplit("_", 1)[0] for n, h in zip(names, held, strict=True) if h}
    assert held.sum() == 30 and len(people) == 6
    assert not any(n.rsplit("_", 1)[0] in people for n, h in zip(names, held, strict=True) if not h)
    assert np.array_equal(held, identity_holdout(list(names), 30))  # stable, no seed


@pytest.mark.parametrize("resolution", [64, 128])
def test_generator_and_discriminator_shapes(resolution):
    generator = dcgan_generator(100, dcgan_channels(8, resolution))
    state = {f"main.{k}": v for k, v in generator.state_dict().items()}
    assert generator_shape(state) == (100, dcgan_channels(8, resolution))
    assert generator_resolution(dcgan_channels(8, resolution)) == resolution
    images = generator(torch.randn(2, 100, 1, 1))
    assert images.shape == (2, 3, resolution, resolution)
    assert dcgan_discriminator(8, resolution)(images).shape == (2, 1)


def test_pretrain_resumes_to_the_same_weights(tmp_path):
    faces = np.random.default_rng(0).integers(0, 255, (16, 16, 16, 3), dtype=np.uint8)
    config = PretrainConfig(resolution=16, width=4, latent_dim=8, batch_size=4, kimg=0.024, checkpoint_every=2)
    assert config.steps == 6
    whole = pretrain_gan(faces, config, tmp_path / "whole")
    short = PretrainConfig(**{**config.to_dict(), "kimg": 8 / 1000})  # 2 steps, then resume to 6
    pretrain_gan(faces, short, tmp_path / "split")
    resumed = pretrain_gan(faces, config, tmp_path / "split")
    assert whole.keys() == resumed.keys()
    for key in whole:
        torch.testing.assert_close(whole[key], resumed[key])
    teacher = DCGANTeacher(whole, template_for(16), name="tiny")
    assert teacher.resolution == 16 and len(teacher.feature_taps) == 1
    assert list((tmp_path / "whole").glob("samples_*.png"))


def test_pretrain_teacher_command_exports_a_teacher_finetune_can_name(face_folder, with_detector, tmp_path):
    work = tmp_path / "run"
    args = ["pretrain-teacher", str(face_folder), "--name", "mine", "--kimg", "0", "--batch-size", "4",
            "--width", "4", "--holdout", "2", "--work", str(work), "--license", "test photos"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    split = json.loads((work / "split.json").read_text())
    assert len(split["holdout"]) >= 2 and not {n.split("/")[0] for n in split["holdout"]} & {
        n.split("/")[0] for n in split["train"]
    }
    teacher = load_teacher("mine")
    assert teacher.name == "mine" and teacher.resolution == 64
    np.testing.assert_allclose(teacher.template, template_for(64), atol=1e-3)
    card = (Path(os.environ["GPDFACE_HOME"]) / "teachers" / "mine" / "README.md").read_text()
    assert "test photos" in card and f"({len(split['train'])} aligned faces)" in card
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    taken = CliRunner().invoke(app, [*args[:3], "dcgan64", *args[4:]])
    assert taken.exit_code == 2 and "registry teacher" in taken.output


def test_aligned_crops_written_out_train_a_teacher_without_detection(face_folder, detector, tmp_path, monkeypatch):
    faces = align_collection(face_folder, tmp_path / "cache", detector, 64, template_for(64))
    packed = tmp_path / "packed"
    written = write_aligned(faces, packed, quality=95)
    assert len(written) == len(faces) and all(p.suffix == ".jpg" for p in written)
    Image.new("RGB", (32, 48)).save(packed / "odd_size.png")  # not 64 px square: skipped, said why
    again = load_aligned(packed, 64)
    assert again.names == faces.names  # the same people, so the same held-out identities
    assert np.abs(again.images.astype(int) - faces.images).mean() < 6  # JPEG (95, halved chroma): close, not equal
    assert again.skipped == [("odd_size.png", "32×48 px, not 64×64")]
    monkeypatch.setattr("gpdface.train.teachers.pretrain_run.RetinaFaceDetector", _NoDetector)
    work = tmp_path / "run"
    args = ["pretrain-teacher", str(packed), "--aligned", "--name", "packed", "--kimg", "0", "--batch-size", "4",
            "--width", "4", "--holdout", "2", "--work", str(work)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads((work / "split.json").read_text())["holdout"] == [
        n for n, h in zip(faces.names, identity_holdout(faces.names, 2), strict=True) if h
    ]
    assert (work / "skipped.tsv").read_text() == "odd_size.png\t32×48 px, not 64×64\n"
    assert load_teacher("packed").resolution == 64


def test_a_wrong_folder_is_one_line_before_any_download(tmp_path):
    result = CliRunner().invoke(app, ["pretrain-teacher", str(tmp_path / "missing"), "--name", "x"])
    assert result.exit_code == 1 and "not a folder of face photos" in result.output
    assert "download" not in result.output


def _tiny_generator(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    generator = dcgan_generator(8, dcgan_channels(4, 16))
    for module in generator.modules():  # running statistics that are not the defaults, as a trained one has
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return {f"main.{k}": v for k, v in generator.state_dict().items()}


def test_a_grown_generator_draws_the_smaller_ones_layers_one_octave_larger():
    smaller = _tiny_generator(0)
    grown, inherited = grown_generator(smaller)
    small = dcgan_generator(8, generator_shape(smaller)[1])
    small.load_state_dict({k[len("main.") :]: v for k, v in smaller.items()})
    small.eval()
    grown.eval()
    z = torch.randn(3, 8, 1, 1)
    assert grown(z).shape == (3, 3, 32, 32) and inherited == 3 * len(generator_shape(smaller)[1])
    # every layer below the smaller one's RGB layer is the smaller one's: same features at 8 px
    torch.testing.assert_close(grown[:inherited](z), small[:inherited](z))
    with pytest.raises(ValueError, match="not a DCGAN generator"):
        grown_generator({**smaller, "main.1.extra": torch.zeros(1)})


def test_an_enlarged_start_draws_the_smaller_generators_image_enlarged():
    torch.manual_seed(2)
    small = dcgan_generator(8, [16, 12])  # 16 px; the grown layer has 6 channels, the fewest that can hold r, -r
    smaller = {f"main.{k}": v for k, v in small.state_dict().items()}
    z = torch.randn(5, 8, 1, 1)
    grown, _ = grown_generator(smaller, enlarged_from=z)
    with torch.no_grad():  # training mode (batch statistics), as it starts training, on the latents it measured
        drawn = grown.train()(z)
        expected = torch.tanh(F.interpolate(small.train()[:-1](z), scale_factor=2, mode="bilinear"))
    assert drawn.shape == (5, 3, 32, 32)
    # the ConvTranspose pads with zeros where bilinear enlargement repeats the edge: the outer ring differs
    torch.testing.assert_close(drawn[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=1e-4, rtol=0)
    fresh = grown_generator(smaller)[0].train()(z)  # a fresh top octave draws something else
    assert not torch.allclose(fresh[..., 1:-1, 1:-1], expected[..., 1:-1, 1:-1], atol=0.1)
    with pytest.raises(ValueError, match="≥ 6 channels"):
        grown_generator(_tiny_generator(0), enlarged_from=torch.randn(4, 8, 1, 1))


def test_a_resize_top_draws_flat_regions_flat_after_training(tmp_path):
    faces = np.random.default_rng(0).integers(0, 255, (16, 16, 16, 3), dtype=np.uint8)
    config = PretrainConfig(resolution=16, width=4, latent_dim=8, batch_size=4, kimg=0.016, ema_kimg=1e-6)
    flat = torch.ones(1, 4, 6, 6) * torch.randn(1, 4, 1, 1)  # a constant feature map into the RGB layer

    def spread(state: dict[str, torch.Tensor]) -> float:
        rgb = max((k for k in state if state[k].ndim == 4), key=lambda k: int(k.split(".")[1]))
        drawn = F.conv_transpose2d(flat, state[rgb], stride=2, padding=1)[..., 2:-2, 2:-2]
        return float((drawn.amax((2, 3)) - drawn.amin((2, 3))).abs().max())

    free = pretrain_gan(faces, config, tmp_path / "free")
    resized = pretrain_gan(faces, dataclasses.replace(config, resize_top=True), tmp_path / "resized")
    assert spread(free) > 1e-3  # a free transposed convolution draws a constant input as a two-pixel grid
    assert spread(resized) < 1e-5  # every output phase sums the same taps, after training as before


def test_a_grown_run_keeps_the_inherited_layers_while_frozen_and_resumes_to_the_same_weights(tmp_path):
    smaller = _tiny_generator(1)
    faces = np.random.default_rng(0).integers(0, 255, (16, 32, 32, 3), dtype=np.uint8)
    config = PretrainConfig(resolution=32, width=4, latent_dim=8, batch_size=4, kimg=0.024, checkpoint_every=2,
                            ema_kimg=1e-6, grow_from="tiny16", frozen_kimg=0.012)  # fmt: skip
    assert config.frozen_steps == 3 and config.steps == 6
    frozen = PretrainConfig(**{**config.to_dict(), "kimg": 0.012})  # stop when the freeze ends
    state = pretrain_gan(faces, frozen, tmp_path / "frozen", grow_from=smaller)
    inherited = 3 * len(generator_shape(smaller)[1])
    for key, value in smaller.items():  # EMA with a near-zero half-life: the trained weights themselves
        if int(key.split(".")[1]) < inherited and "running" not in key and "num_batches" not in key:
            torch.testing.assert_close(state[key], value)
    new_layer = f"main.{inherited}.weight"
    assert not torch.equal(state[new_layer], grown_generator(smaller)[0].state_dict()[new_layer[5:]])
    whole = pretrain_gan(faces, config, tmp_path / "whole", grow_from=smaller)
    assert any(not torch.equal(whole[k], v) for k, v in smaller.items() if k.endswith("0.weight"))  # unfrozen
    short = PretrainConfig(**{**config.to_dict(), "kimg": 8 / 1000})
    pretrain_gan(faces, short, tmp_path / "split", grow_from=smaller)
    resumed = pretrain_gan(faces, config, tmp_path / "split", grow_from=smaller)
    for key in whole:
        torch.testing.assert_close(whole[key], resumed[key])
    with pytest.raises(ValueError, match="grow_from"):
        pretrain_gan(faces, config, tmp_path / "other")
    with pytest.raises(ValueError, match="draws 32 px"):  # one octave up from 16 px is not 64 px
        big = np.zeros((4, 64, 64, 3), np.uint8)
        pretrain_gan(big, PretrainConfig(**{**config.to_dict(), "resolution": 64}), tmp_path / "x", grow_from=smaller)


def test_a_device_pytorch_cannot_see_is_one_line_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    result = CliRunner().invoke(app, ["pretrain-teacher", str(tmp_path), "--name", "x", "--device", "cuda"])
    assert result.exit_code != 0 and "sees no CUDA device" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("option", [["--frozen-kimg", "10"], ["--start-enlarged"]])
def test_growing_options_without_a_teacher_to_grow_are_one_line(tmp_path, option):
    result = CliRunner().invoke(app, ["pretrain-teacher", str(tmp_path), "--name", "x", *option])
    assert result.exit_code != 0 and "add --grow-from" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_the_command_defaults_are_the_configs():
    """pretrain-teacher spells its defaults out (the CLI does not import training code); they must not drift."""
    command = inspect.signature(pretrain_teacher).parameters
    shared = [field for field in dataclasses.fields(PretrainConfig) if field.name in command]
    assert len(shared) >= 10
    for field in shared:
        assert command[field.name].default == field.default, field.name
