"""Style names are untrusted text that becomes part of file names: one pattern, checked where a name is read."""

import json

import pytest

from conftest import make_style
from gpdface.errors import UsageError, WeightsError
from gpdface.names import check_name, is_valid_name, name_from_folder, quoted
from gpdface.style import load_style


@pytest.mark.parametrize("name", ["sketch", "my_5_images", "Style-2", "v1.2", "a"])
def test_plain_names_are_valid(name):
    assert is_valid_name(name) and check_name(name, "--name") == name


@pytest.mark.parametrize(
    "name",
    ["", "/elsewhere/ABS", "../../../../elsewhere/ESCAPED", "a/b", "a\\b", "a\x01b", "-rf", ".hidden", "a..b",
     "x" * 65, "two words", 7, None, ["sketch"]],
)  # fmt: skip
def test_unsafe_names_are_refused(name):
    assert not is_valid_name(name)
    with pytest.raises(UsageError, match="not a usable name"):
        check_name(name, "--name")


def test_a_long_name_is_quoted_short():
    with pytest.raises(UsageError) as caught:
        check_name("x" * 5_000_000, "--name")
    assert len(str(caught.value)) < 300
    assert quoted("y" * 1000).endswith("…") and len(quoted("y" * 1000)) == 80


def test_names_made_from_folders():
    assert name_from_folder("my 5 images") == "my_5_images"
    assert name_from_folder(".dots..and  spaces") == "dots.and_spaces"
    with pytest.raises(UsageError):
        name_from_folder("...")


@pytest.mark.parametrize("bad", ["/elsewhere/ABS", "../../../../elsewhere/ESCAPED", "a/b"])
def test_a_style_json_with_a_path_for_a_name_is_refused(tmp_path, bad):
    folder = make_style(tmp_path, "copied")
    data = json.loads((folder / "style.json").read_text())
    (folder / "style.json").write_text(json.dumps({**data, "name": bad}))
    with pytest.raises(WeightsError, match="not a usable name"):
        load_style(folder)


def test_a_style_json_without_a_name_takes_a_safe_one_from_its_folder(tmp_path):
    folder = make_style(tmp_path, "my style")
    data = json.loads((folder / "style.json").read_text())
    del data["name"]
    (folder / "style.json").write_text(json.dumps(data))
    assert load_style(folder).name == "my_style"


@pytest.mark.parametrize("command", [["export", "onnx"], ["translate", "PHOTO", "--backend", "onnxruntime"]])
def test_no_command_writes_where_a_copied_style_name_points(tmp_path, command, grace_hopper):
    from PIL import Image
    from typer.testing import CliRunner

    from gpdface.cli import app

    folder = make_style(tmp_path, "that_style")
    escaped = tmp_path / "elsewhere" / "ABS"
    data = json.loads((folder / "style.json").read_text())
    (folder / "style.json").write_text(json.dumps({**data, "name": str(escaped)}))
    photo = tmp_path / "photo.jpg"
    Image.fromarray(grace_hopper).save(photo)
    args = [str(photo) if a == "PHOTO" else a for a in command] + ["--style", str(folder)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 4, result.output
    assert "not a usable name" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "elsewhere").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg", "that_style"]
