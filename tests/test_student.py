import json

import pytest
import torch

from gpdface.errors import WeightsError
from gpdface.nets import StudentConfig, StudentNet, count_flops, load_student, save_student


def test_default_size_fits_the_design():
    model = StudentNet()
    params = sum(p.numel() for p in model.parameters())
    assert 1_000_000 <= params <= 3_000_000
    assert 4e9 <= count_flops(model, 256) <= 20e9


def test_output_shape_and_range():
    model = StudentNet(StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)).eval()
    with torch.no_grad():
        y = model(torch.randn(2, 3, 64, 64) * 3)
    assert y.shape == (2, 3, 64, 64)
    assert y.abs().max() <= 1


def test_fully_convolutional():
    model = StudentNet(StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 128, 96)).shape == (1, 3, 128, 96)


def test_wrong_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="B 3 H W"):
        StudentNet()(torch.zeros(3, 64, 64))


def test_flop_count_of_a_single_conv():
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1))
    assert count_flops(conv, 16) == 2 * 3 * 9 * 8 * 16 * 16


@pytest.mark.parametrize("norm", ["instance", "batch", "none"])
def test_save_load_round_trip(tmp_path, norm):
    torch.manual_seed(0)
    model = StudentNet(StudentConfig(resolution=64, channels=(8, 16, 32), res_blocks=2, norm=norm)).eval()
    save_student(model, tmp_path / "s", dtype=torch.float32)
    loaded = load_student(tmp_path / "s")
    assert loaded.config == model.config
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert json.loads((tmp_path / "s" / "config.json").read_text())["model"] == "StudentNet"


def test_fp16_storage_is_close(tmp_path):
    torch.manual_seed(0)
    model = StudentNet(StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)).eval()
    save_student(model, tmp_path / "s")  # fp16 by default
    loaded = load_student(tmp_path / "s")
    assert next(loaded.parameters()).dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - loaded(x)).abs().max() < 2e-2


def test_mismatched_weights_are_refused(tmp_path):
    save_student(StudentNet(StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)), tmp_path / "s")
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    config["res_blocks"] = 2
    (tmp_path / "s" / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="does not fit"):
        load_student(tmp_path / "s")


def test_missing_file_and_unknown_keys(tmp_path):
    save_student(StudentNet(StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)), tmp_path / "s")
    config = json.loads((tmp_path / "s" / "config.json").read_text())
    (tmp_path / "s" / "config.json").write_text(json.dumps({**config, "attention": True}))
    with pytest.raises(WeightsError, match="unknown keys"):
        load_student(tmp_path / "s")
    (tmp_path / "s" / "model.safetensors").unlink()
    (tmp_path / "s" / "config.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="model.safetensors is missing"):
        load_student(tmp_path / "s")


def test_invalid_config():
    with pytest.raises(ValueError):
        StudentConfig(resolution=100, channels=(8, 16, 32, 64))
    with pytest.raises(ValueError):
        StudentConfig(norm="layer")
