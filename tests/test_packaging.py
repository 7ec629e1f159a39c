"""The wheel carries the manifest (and any embedded style) and nothing from the test assets."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the checkout")
    out = tmp_path_factory.mktemp("wheel")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(REPO)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 and "hatchling" in done.stderr:
        pytest.skip("hatchling is not installed in this environment (pip install -e '.[dev]')")
    assert done.returncode == 0, done.stderr
    return next(out.glob("gpdface-*.whl"))


def test_wheel_contents(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "gpdface/weights_manifest.json" in names
    assert "gpdface/cli/translate_cmd.py" in names and "gpdface/face/detect.py" in names
    assert not any(n.endswith((".pth", ".pt")) for n in names)
    assert not any(n.startswith("tests/") for n in names)
    embedded = sorted(
        p.relative_to(REPO).as_posix()
        for folder in ("weights", "samples")
        for p in (REPO / "gpdface" / folder).rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    assert "gpdface/weights/teachers/lfw64/generator.safetensors" in embedded
    for path in embedded:
        assert path in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "gpdface = gpdface.cli:app" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_top_level_manifest_is_the_packaged_one(wheel):
    """The manifest readers of the repository see (a link at its top) is the one the wheel ships."""
    top = REPO / "weights_manifest.json"
    assert top.is_symlink() and top.resolve() == (REPO / "gpdface" / "weights_manifest.json").resolve()
    assert top.read_bytes() == zipfile.ZipFile(wheel).read("gpdface/weights_manifest.json")
