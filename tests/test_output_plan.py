"""A translate run plans every output before writing: no input replaced, no file written twice."""

from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app
from gpdface.errors import UsageError
from gpdface.output_plan import plan_outputs
from gpdface.style import user_styles_dir

runner = CliRunner()


def touch(folder: Path, *names: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"")
    return [folder / name for name in names]


def test_beside_the_inputs(tmp_path):
    sources = touch(tmp_path, "a.jpg", "b.png")
    plans = plan_outputs(sources, None, "sketch", "paste")
    assert [p.target.name for p in plans] == ["a_sketch.jpg", "b_sketch.png"]
    assert all(p.photo and not p.crops for p in plans)


def test_a_result_onto_another_input_is_refused(tmp_path):
    sources = touch(tmp_path, "p.jpg", "p_sketch.jpg")
    with pytest.raises(UsageError, match=r"replace .*p_sketch\.jpg, another input"):
        plan_outputs(sources, None, "sketch", "paste")


def test_a_face_crop_onto_another_input_is_refused(tmp_path):
    sources = touch(tmp_path, "x.jpg", "x_face0.jpg")
    with pytest.raises(UsageError, match="a face crop of"):
        plan_outputs(sources, tmp_path / "out", "sketch", "both")
    # crops of x.jpg land in out/, where x_face0.jpg's own result would be
    with pytest.raises(UsageError, match="would both be"):
        plan_outputs(touch(tmp_path / "in", "x.jpg", "x_face0.jpg"), tmp_path / "out", "sketch", "both")
    # pasted photos only: no crops, nothing collides
    assert len(plan_outputs(sources, tmp_path / "out2", "sketch", "paste")) == 2


def test_two_inputs_of_one_name_into_one_folder_are_refused(tmp_path):
    sources = touch(tmp_path / "a", "p.jpg") + touch(tmp_path / "b", "p.jpg")
    with pytest.raises(UsageError, match="would both be written"):
        plan_outputs(sources, tmp_path / "out", "sketch", "paste")
    with pytest.raises(UsageError, match="face crops of"):
        plan_outputs(sources, tmp_path / "out", "sketch", "crop")


def test_a_video_writes_only_its_video(tmp_path):
    (plan,) = plan_outputs(touch(tmp_path, "clip.mp4"), None, "sketch", "both")
    assert plan.photo and not plan.crops and plan.target.name == "clip_sketch.mp4"


@pytest.fixture
def teststyle():
    return make_style(user_styles_dir(), "teststyle")


def test_cli_leaves_an_input_named_like_an_output_untouched(tmp_path, astronaut, teststyle, with_detector):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "p.jpg")
    Image.fromarray(astronaut[::-1]).save(folder / "p_teststyle.jpg")
    before = (folder / "p_teststyle.jpg").read_bytes()
    result = runner.invoke(app, ["translate", str(folder), "--style", "teststyle"])
    assert result.exit_code == 2, result.output
    assert "another input" in result.stderr
    assert (folder / "p_teststyle.jpg").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["p.jpg", "p_teststyle.jpg"]


def test_cli_writes_no_file_twice(tmp_path, astronaut, teststyle, with_detector):
    inputs = [tmp_path / "x.jpg", tmp_path / "x_face0.jpg"]
    for path in inputs:
        Image.fromarray(astronaut).save(path)
    args = ["translate", *map(str, inputs), "--output", "both", "-o", str(tmp_path / "out"), "--style", "teststyle"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "would both be" in result.stderr
    assert not (tmp_path / "out").exists()
