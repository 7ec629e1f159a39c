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


@pytest.mark.parametrize(("norm", "upsample"), [("instance", "nearest"), ("batch", "bilinear"), ("none", "bilinear")])
def test_save_load_round_trip(tmp_path, norm, upsample):
    torch.manual_seed(0)
    config = StudentConfig(resolution=64, channels=(8, 16, 32), res_blocks=2, norm=norm, upsample=upsample)
    model = StudentNet(config).eval()
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
    with pytest.raises(ValueError, match="upsample"):
        StudentConfig(upsample="bicubic")


def test_a_config_round_trips_and_a_missing_option_takes_the_default():
    assert StudentConfig.from_dict(json.loads(StudentConfig().to_json())) == StudentConfig()
    short = {"model": "StudentNet", "resolution": 256, "channels": [16, 32, 64, 128], "res_blocks": 4}
    assert StudentConfig.from_dict(short) == StudentConfig()


@pytest.mark.parametrize(("norm", "local"), [("batch", True), ("none", True), ("instance", False)])
def test_a_window_is_drawn_as_in_the_whole_crop_unless_instance_normalised(norm, local):
    """Why the default is batch norm: in eval mode the drawing of a window equals the whole crop's drawing
    there (away from the window's edges), so training on windows and running on crops or whole photos
    agree. Instance norm makes every pixel depend on the whole input's statistics."""
    torch.manual_seed(0)
    model = StudentNet(StudentConfig(resolution=64, channels=(8, 16, 32), res_blocks=1, norm=norm)).eval()
    if norm == "batch":  # give the running statistics something other than their initial values
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    x[..., :, 64:] = x[..., :, 64:] * 0.2 - 0.7  # the right half darker: different statistics
    with torch.no_grad():
        whole, window = model(x), model(x[..., 16:112, :96])  # offsets: multiples of the 4× downsampling
    margin = 28  # beyond the network's reach from the window's edges
    difference = (whole[..., 16:112, :96] - window)[..., margin:-margin, margin:-margin].abs().max()
    assert (difference < 1e-5) if local else (difference > 1e-2)
