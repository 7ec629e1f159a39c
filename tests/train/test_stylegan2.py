"""Conformance of the pure-PyTorch StyleGAN2 with rosinality's model.py (golden data in the test assets)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from conftest import asset
from gpdface.train.teachers.ops import fir_kernel, upfirdn2d
from gpdface.train.teachers.stylegan2 import Discriminator, Generator
from gpdface.train.teachers.stylegan2_teacher import StyleGAN2Teacher, infer_config


class Sneaky:
    """Stands for any pickled object a checkpoint could smuggle in."""


NARROW = {4: 64, 8: 56, 16: 48, 32: 40, 64: 32}


def narrow(dtype=torch.float32, standard_kernels=False):
    g_state = load_file(asset("stylegan2_conformance/narrow_g.safetensors"))
    d_state = load_file(asset("stylegan2_conformance/narrow_d.safetensors"))
    g = Generator(64, 64, 8, channels=NARROW).to(dtype).eval()
    d = Discriminator(64, channels=NARROW).to(dtype).eval()
    g.load_state_dict({k: v.to(dtype) for k, v in g_state.items()}, strict=True)
    d.load_state_dict({k: v.to(dtype) for k, v in d_state.items()}, strict=True)
    if standard_kernels:
        # G's blur kernels all follow an upsampling and carry its ×4 gain; D's are plain (assets README).
        for model, gain in ((g, 4.0), (d, 1.0)):
            for name, buffer in model.named_buffers():
                if name.endswith("kernel"):
                    buffer.copy_(fir_kernel((1, 3, 3, 1)).to(dtype) * gain)
    return g, d


def run_cases(g, d, cases, dtype, d_input_a=None):
    c = {k: v.to(dtype) for k, v in cases.items() if k.startswith("in_")}
    with torch.no_grad():
        out = {"out_w": g.style(c["in_z"]), "out_w2": g.style(c["in_z2"])}
        out["out_img_a"] = g([c["in_z"]], randomize_noise=False)[0]
        out["out_img_b"], out["out_latent_b"] = g(
            [c["in_z"]],
            truncation=0.7,
            truncation_latent=c["in_truncation_latent"],
            randomize_noise=False,
            return_latents=True,
        )
        out["out_img_c"] = g([c["in_w_plus"]], input_is_latent=True, randomize_noise=False)[0]
        out["out_img_d"], out["out_latent_d"] = g(
            [c["in_z"], c["in_z2"]], inject_index=3, randomize_noise=False, return_latents=True
        )
        out["out_d_img_a"] = d(out["out_img_a"] if d_input_a is None else d_input_a)
        out["out_d_x_rand"] = d(c["in_x_rand"])
    return out


@pytest.mark.parametrize("key", ["keys_g256_cm2", "keys_d256_cm2", "keys_g1024_cm2", "keys_d1024_cm2"])
def test_state_dict_keys_and_shapes_match_the_public_configurations(key):
    expected = json.loads(asset(f"stylegan2_conformance/{key}.json").read_text())
    size = 256 if "256" in key else 1024
    model = Generator(size, 512, 8, 2) if key.startswith("keys_g") else Discriminator(size, 2)
    actual = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert list(actual.items()) == list(expected.items())  # same keys, same shapes, same order


def test_float32_golden_cases():
    cases = load_file(asset("stylegan2_conformance/cases.safetensors"))
    g, d = narrow()
    out = run_cases(g, d, cases, torch.float32)
    for key, value in out.items():
        atol = 1e-5 if key.startswith("out_d") else 1e-4
        torch.testing.assert_close(value, cases[key], atol=atol, rtol=0, msg=key)


def test_float64_golden_cases():
    cases = load_file(asset("stylegan2_conformance/cases.safetensors"))
    golden = load_file(asset("stylegan2_conformance/cases_float64.safetensors"))
    g, d = narrow(torch.float64)
    out = run_cases(g, d, cases, torch.float64, d_input_a=cases["out_img_a"].double())
    for key, value in out.items():
        torch.testing.assert_close(value, golden[key], atol=1e-9, rtol=0, msg=key)


def test_standard_kernel_cases():
    cases = load_file(asset("stylegan2_conformance/cases.safetensors"))
    g, d = narrow(standard_kernels=True)
    with torch.no_grad():
        img = g([cases["in_z"]], randomize_noise=False)[0]
        score = d(cases["in_x_rand"])
    torch.testing.assert_close(img, cases["out_img_a_stdkernels"], atol=1e-4, rtol=0)
    torch.testing.assert_close(score, cases["out_d_x_rand_stdkernels"], atol=1e-5, rtol=0)


def test_upfirdn2d_flips_asymmetric_kernels():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 2] = 1
    kernel = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    out = upfirdn2d(x, kernel, pad=(1, 0))
    # A true convolution of an impulse reproduces the kernel itself (not its mirror image).
    assert torch.equal(out[0, 0, 2:4, 2:4], kernel)


def test_teacher_interface_on_the_narrow_generator():
    g, _ = narrow()
    teacher = StyleGAN2Teacher(g, g.mean_latent(1000, torch.Generator().manual_seed(0))[0])
    latents = teacher.sample_latents(3, torch.Generator().manual_seed(1), truncation=0.7, mixing=1.0)
    assert latents.shape == (3, 10, 64)
    assert not torch.equal(latents[:, 0], latents[:, -1])  # mixed: two codes along the layers
    images, features = teacher.synthesis_with_features(latents)
    assert images.shape == (3, 3, 64, 64) and len(features) == 4
    assert torch.equal(images, teacher.synthesis(latents))  # fixed noise: deterministic
    mapping = {id(p) for p in g.style.parameters()}
    assert all(id(p) not in mapping for p in teacher.adaptable_parameters())
    assert teacher.template.shape == (5, 2)


def test_config_is_inferred_from_the_state_dict():
    for size in (256, 1024):
        config = infer_config(Generator(size, 512, 8, 2).state_dict())
        assert config == {"size": size, "style_dim": 512, "n_mlp": 8, "channel_multiplier": 2}


def test_rosinality_checkpoint_is_converted_to_safetensors(tmp_path):
    """A training checkpoint (with its pickled argparse args) loads with weights_only and converts once."""
    import argparse

    from gpdface.hub import gpdface_home
    from gpdface.train.teachers import load_teacher

    # The narrow generator's channels are not a public configuration: convert a 32 px public-table one.
    small_g = Generator(32, 64, 2, channel_multiplier=2)
    small_d = Discriminator(32, channel_multiplier=2)
    ckpt = {
        "g": small_g.state_dict(),
        "g_ema": small_g.state_dict(),
        "d": small_d.state_dict(),
        "args": argparse.Namespace(size=32, latent=64),
        "ada_aug_p": 0.0,
    }
    torch.save(ckpt, tmp_path / "550000.pt")
    teacher = load_teacher(tmp_path / "550000.pt")
    assert teacher.resolution == 32 and teacher.latent_shape == (small_g.n_latent, 64)
    z = torch.randn(2, 64)
    with torch.no_grad():
        expected = small_g([z], randomize_noise=False)[0]
        w = small_g.style(z).unsqueeze(1).repeat(1, small_g.n_latent, 1)
        torch.testing.assert_close(teacher.synthesis(w), expected, atol=1e-5, rtol=0)
    assert list((gpdface_home() / "teachers").glob("550000-*/generator.safetensors"))  # converted once, cached
    assert list((gpdface_home() / "teachers").glob("550000-*/discriminator.safetensors"))  # kept, not loaded


def test_a_pickled_object_other_than_args_is_refused(tmp_path):
    from gpdface.errors import WeightsError
    from gpdface.train.teachers.stylegan2_teacher import read_rosinality_checkpoint

    torch.save({"g_ema": {}, "extra": Sneaky()}, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="cannot read"):
        read_rosinality_checkpoint(tmp_path / "bad.pt")
