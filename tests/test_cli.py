"""The command line, through typer's CliRunner and through the installed entry point."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from conftest import make_style
from gpdface.cli import app
from gpdface.style import user_styles_dir

runner = CliRunner()


@pytest.fixture
def photos(tmp_path, astronaut, grace_hopper, two_faces, no_face):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    Image.fromarray(grace_hopper).save(folder / "hopper.jpg")
    Image.fromarray(two_faces).save(folder / "two.jpg")
    Image.fromarray(no_face).save(tmp_path / "coffee.jpg")
    return folder


@pytest.fixture
def user_style():
    return make_style(user_styles_dir(), "teststyle")


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_translate_one_file(photos, user_style, with_detector, tmp_path):
    result = invoke("translate", photos / "two.jpg", "-o", tmp_path / "out.jpg", "--style", "teststyle", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert len(summary["results"][0]["faces"]) == 2
    assert summary["results"][0]["outputs"] == [str(tmp_path / "out.jpg")]
    face = summary["results"][0]["faces"][0]
    assert len(face["box"]) == 4 and len(face["landmarks"]) == 5 and face["score"] > 0.9
    assert Image.open(tmp_path / "out.jpg").size == Image.open(photos / "two.jpg").size


def test_default_output_is_beside_the_input(photos, user_style, with_detector):
    result = invoke("translate", photos / "astronaut.png", "--style", "teststyle")
    assert result.exit_code == 0, result.output
    assert (photos / "astronaut_teststyle.png").is_file()


def test_folder_with_one_bad_file(photos, user_style, with_detector, tmp_path):
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = invoke("translate", photos, "-o", tmp_path / "out", "--style", "teststyle", "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    errors = [r for r in summary["results"] if "error" in r]
    assert [os.path.basename(r["source"]) for r in errors] == ["broken.jpg"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["astronaut.png", "hopper.jpg", "two.jpg"]
    assert "broken.jpg" in result.stderr


def test_glob_input_and_crop_output(photos, user_style, with_detector, tmp_path):
    result = invoke(
        "translate", str(photos / "*.png"), "-o", tmp_path / "o", "--style", "teststyle", "--output", "crop"
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["astronaut_face0.png"]


def test_output_onto_input_is_refused(photos, user_style, with_detector):
    before = (photos / "hopper.jpg").read_bytes()
    result = invoke("translate", photos / "hopper.jpg", "-o", photos / "hopper.jpg", "--style", "teststyle")
    assert result.exit_code == 2
    assert "--overwrite" in result.stderr
    assert (photos / "hopper.jpg").read_bytes() == before
    result = invoke(
        "translate", photos / "hopper.jpg", "-o", photos / "hopper.jpg", "--style", "teststyle", "--overwrite"
    )
    assert result.exit_code == 0 and (photos / "hopper.jpg").read_bytes() != before


def test_no_face_exit_code(photos, user_style, with_detector, tmp_path):
    result = invoke("translate", tmp_path / "coffee.jpg", "--style", "teststyle")
    assert result.exit_code == 3
    assert "no face found" in result.stderr and "--aligned" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert invoke("translate", tmp_path / "coffee.jpg", "--style", "teststyle", "--aligned").exit_code == 0


def test_unknown_style_suggests_close_names(photos, user_style):
    result = invoke("translate", photos / "hopper.jpg", "--style", "teststyl")
    assert result.exit_code == 2
    assert "did you mean teststyle" in result.stderr


def test_missing_input(user_style, tmp_path):
    result = invoke("translate", tmp_path / "nothing.jpg", "--style", "teststyle")
    assert result.exit_code == 1 and "no such file" in result.stderr


def test_offline_without_detector_weights_exits_4(photos, user_style, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("translate", photos / "hopper.jpg", "--style", "teststyle")
    assert result.exit_code == 4
    assert "gpdface download" in result.stderr and "GPDFACE_WEIGHTS_PATH" in result.stderr


def test_a_folder_without_detector_weights_fails_once_before_the_loop(photos, user_style, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = invoke("translate", photos, "-o", tmp_path / "out", "--style", "teststyle")
    assert result.exit_code == 4
    assert result.stderr.count("gpdface download") == 1 and "hopper" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_api_remedies_become_flags_on_the_command_line(photos, user_style, tmp_path, with_detector):
    result = invoke("translate", tmp_path / "coffee.jpg", "--style", "teststyle")
    assert result.exit_code == 3 and "pass --aligned" in result.stderr and "aligned=True" not in result.stderr


def test_debug_shows_the_traceback(photos, user_style, tmp_path, with_detector):
    result = invoke("--debug", "translate", tmp_path / "coffee.jpg", "--style", "teststyle")
    assert result.exit_code == 3 and "Traceback" in result.stderr


def test_usage_error_is_exit_2():
    assert invoke("translate", "--no-such-option").exit_code == 2


def test_styles_and_doctor(user_style, with_detector):
    result = invoke("styles", "--json")
    assert result.exit_code == 0
    assert {"name": "teststyle", "origin": "user"}.items() <= json.loads(result.stdout)[0].items()
    doctor = invoke("doctor")
    assert doctor.exit_code == 0
    assert "torch" in doctor.stdout and "retinaface_mobile0.25" in doctor.stdout
    assert "found in GPDFACE_WEIGHTS_PATH" in doctor.stdout  # not "cached": the file was found through the path


def test_download_detector_into_the_cache(with_detector):
    result = invoke("download", "retinaface_mobile0.25")
    assert result.exit_code == 0, result.output
    assert "verified" in result.stdout
    unknown = invoke("download", "nonesuch")
    assert unknown.exit_code == 2 and "known: " in unknown.stderr


def test_entry_point_in_a_subprocess(photos, user_style, detector_dir, tmp_path):
    exe = shutil.which("gpdface", path=os.path.dirname(sys.executable))
    assert exe, "the gpdface console script is not installed beside this Python"
    env = {**os.environ, "GPDFACE_WEIGHTS_PATH": str(detector_dir)}
    assert subprocess.run([exe, "--help"], capture_output=True, env=env).returncode == 0
    done = subprocess.run(
        [exe, "translate", str(photos / "astronaut.png"), "-o", str(tmp_path / "o.png"), "--style", "teststyle"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (512, 512, 3)
    noface = subprocess.run(
        [exe, "translate", str(tmp_path / "coffee.jpg"), "--style", "teststyle"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert noface.returncode == 3 and noface.stderr.startswith("error: no face found")


def test_the_command_line_imports_no_torch_until_a_command_needs_it():
    """`gpdface --help` and argument errors stay instant: torch is imported inside the commands."""
    code = "import sys, gpdface.cli; print('torch' in sys.modules, 'cv2' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.split() == ["False", "False"], done.stdout + done.stderr


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--output", "bogus"], "--output must be one of paste, crop, both, not 'bogus'"),
        (["--background", "sepia"], "--background must be one of"),
        (["--device", "gpu"], "--device must be auto, cpu, cuda or cuda:N, not 'gpu'"),
        (["--max-faces", "0"], "--max-faces must be at least 1, not 0"),
        (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
        (["--detector", "retinaface_resnet50"], "--detector must be one of retinaface_mobile0.25"),
        (["--scan-face", "-5"], "--scan-face must be 0 (full detail) or a size in pixels, not -5"),
    ],
)
def test_bad_option_values_are_usage_errors_naming_the_flag(photos, option, message):
    result = invoke("translate", photos / "hopper.jpg", *option)
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_api_device_errors_name_the_argument_not_a_flag():
    from gpdface.errors import InputError
    from gpdface.translator import pick_device

    with pytest.raises(InputError, match="device must be auto, cpu, cuda or cuda:N, not 'gpu'"):
        pick_device("gpu")


def test_two_inputs_of_one_name_into_one_folder_are_refused(photos, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(photos / "hopper.jpg", other / "hopper.jpg")
    out = tmp_path / "out"
    result = invoke("translate", photos / "hopper.jpg", other / "hopper.jpg", "-o", out)
    assert result.exit_code == 2 and "would both be written to" in result.stderr
    assert not out.exists()  # refused before anything was written


def test_a_file_named_twice_is_translated_once():
    from gpdface.translate_run import expand_inputs

    here = Path(__file__)
    assert expand_inputs([str(here), str(here.parent / ".." / "tests" / here.name)]) == [here]


def test_alpha_written_into_a_jpeg_is_warned_about(photos, user_style, with_detector, tmp_path):
    rgba = np.dstack([np.asarray(Image.open(photos / "astronaut.png")), np.full((512, 512), 200, np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    jpeg = invoke("translate", tmp_path / "rgba.png", "-o", tmp_path / "out.jpg", "--style", "teststyle")
    assert jpeg.exit_code == 0 and "alpha is dropped" in jpeg.stderr
    png = invoke("translate", tmp_path / "rgba.png", "-o", tmp_path / "out.png", "--style", "teststyle")
    assert png.exit_code == 0 and "alpha is dropped" not in png.stderr


def test_aligned_on_a_photo_that_is_not_a_crop_warns(photos, user_style, tmp_path):
    result = invoke("translate", photos / "hopper.jpg", "--aligned", "-o", tmp_path / "o.png", "--style", "teststyle")
    assert result.exit_code == 0 and "not a square aligned face crop" in result.stderr
    square = invoke("translate", photos / "astronaut.png", "--aligned", "-o", tmp_path / "a.png", "-s", "teststyle")
    assert square.exit_code == 0 and "not a square" not in square.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; the permission cannot be tested")
def test_a_read_only_output_folder_is_one_line(photos, user_style, with_detector, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    result = invoke("translate", photos / "hopper.jpg", "-o", locked / "o.png", "--style", "teststyle")
    assert result.exit_code == 1 and "cannot write" in result.stderr and "unexpected" not in result.stderr


def test_an_output_that_cannot_be_written_is_one_line(photos, user_style, with_detector, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the output folder should be")
    result = invoke("translate", photos / "hopper.jpg", "-o", blocker / "o.png", "--style", "teststyle")
    assert result.exit_code == 1 and "cannot write" in result.stderr and "unexpected" not in result.stderr


def test_user_text_is_printed_as_it_is_never_as_markup(photos, user_style, with_detector, tmp_path):
    """A file name or message with brackets is text: `[/].jpg` is a missing file, not a console-markup crash;
    an existing `photo[red].jpg` is that file, not a glob pattern; '[x, y]' stays in the message."""
    missing = invoke("translate", "[/].jpg", "--style", "teststyle")
    assert missing.exit_code == 1 and missing.stderr.count("\n") == 1, missing.output
    assert "[/].jpg: the pattern matches no file" in missing.stderr and "Traceback" not in missing.output
    bracketed = tmp_path / "photo[red].jpg"
    shutil.copy(photos / "hopper.jpg", bracketed)
    done = invoke("translate", bracketed, "-o", tmp_path / "out.jpg", "--style", "teststyle")
    assert done.exit_code == 0, done.output
    assert f"{bracketed} → {tmp_path / 'out.jpg'}" in done.stderr
    folder = make_style(tmp_path, "odd")
    data = json.loads((folder / "style.json").read_text())
    (folder / "style.json").write_text(json.dumps({**data, "template": [[1, 2]]}))
    broken = invoke("translate", photos / "hopper.jpg", "--style", folder)
    assert broken.exit_code == 4 and "template must be 5 [x, y] points" in broken.stderr, broken.output


def test_an_unexpected_error_is_one_short_line(monkeypatch, photos, user_style):
    import gpdface.translate_run as run

    def explode(*args, **kwargs):
        raise RuntimeError("x" * 100_000)

    monkeypatch.setattr(run, "expand_inputs", explode)
    result = invoke("translate", photos / "hopper.jpg", "--style", "teststyle")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: unexpected RuntimeError: xxx") and len(result.stderr) < 700
