"""Student training on pairs: data layout, interrupt + resume, and `gpdface finetune` end to end."""

import json
import shutil

import pytest
import torch
from typer.testing import CliRunner

from conftest import asset
from gpdface.cli import app
from gpdface.errors import InputError
from gpdface.face.align import template_for
from gpdface.nets import StudentConfig
from gpdface.train.data import align_pairs, find_pairs
from gpdface.train.distill import CHECKPOINT, DistillConfig, train_on_pairs

TINY = StudentConfig(resolution=64, channels=(8, 16), res_blocks=1)


@pytest.fixture
def pair_dir(tmp_path):
    """Three CUFS pairs in the source/ + target/ layout."""
    cufs = asset("cufs/cuhk/train")
    for sub_in, sub_out in (("photos", "source"), ("sketches", "target")):
        (tmp_path / "pairs" / sub_out).mkdir(parents=True)
        for path in sorted((cufs / sub_in).iterdir())[:3]:
            shutil.copy(path, tmp_path / "pairs" / sub_out / path.name)
    return tmp_path / "pairs"


def test_find_pairs_checks_partners(pair_dir):
    assert [p.name for p in find_pairs(pair_dir)] == sorted(p.stem for p in (pair_dir / "source").iterdir())
    next((pair_dir / "target").iterdir()).unlink()
    with pytest.raises(InputError, match="no partner"):
        find_pairs(pair_dir)
    with pytest.raises(InputError, match="source/ and target/"):
        find_pairs(pair_dir / "source")


def test_interrupted_training_resumes_where_it_stopped(pair_dir, detector, tmp_path):
    pairs = align_pairs(find_pairs(pair_dir), detector, 64, template_for(64))
    config = DistillConfig(steps=6, batch_size=2, checkpoint_every=2, sample_every=3, student=TINY)
    straight = train_on_pairs(pairs, config, tmp_path / "straight", torch.device("cpu"))

    class Interrupted(Exception):
        pass

    def stop_after_three(step, loss):
        if step == 3:
            raise Interrupted

    with pytest.raises(Interrupted):
        train_on_pairs(pairs, config, tmp_path / "run", torch.device("cpu"), on_step=stop_after_three)
    assert torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)["step"] == 2
    seen = []
    resumed = train_on_pairs(
        pairs, config, tmp_path / "run", torch.device("cpu"), resume=True, on_step=lambda step, loss: seen.append(step)
    )
    assert seen == [3, 4, 5, 6]  # continued from the last checkpoint
    for key, value in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[key], value, atol=1e-6, rtol=0, msg=key)
    assert (tmp_path / "run" / "samples_000006.png").is_file()


def test_finetune_command_exports_a_usable_style(pair_dir, with_detector, tmp_path, astronaut):
    runner = CliRunner()
    args = [
        "finetune",
        "--pairs",
        str(pair_dir),
        "--name",
        "tiny",
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--eval",
        str(pair_dir),
        "--license",
        "research use (CUFS)",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    from gpdface.style import load_style, user_styles_dir

    style_dir = user_styles_dir() / "tiny"
    assert {p.name for p in style_dir.iterdir()} >= {"config.json", "model.safetensors", "style.json", "README.md"}
    meta = json.loads((style_dir / "style.json").read_text())
    assert meta["license"] == "research use (CUFS)" and meta["provenance"]["steps"] == 2
    assert set(meta["provenance"]["metrics"]) == {"train", str(pair_dir)}
    assert load_style("tiny").info.crop_size == 256
    again = runner.invoke(app, args)  # an earlier run exists: refuse rather than overwrite silently
    assert again.exit_code == 2 and "--resume" in again.stderr
    from PIL import Image

    Image.fromarray(astronaut).save(tmp_path / "a.png")
    translated = runner.invoke(
        app, ["translate", str(tmp_path / "a.png"), "--style", "tiny", "-o", str(tmp_path / "o.png")]
    )
    assert translated.exit_code == 0, translated.output
