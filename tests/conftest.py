"""Shared fixtures: an isolated gpdface home, test assets, real public-domain photos, test styles.

Test assets are found in this order: ``$GPDFACE_TEST_ASSETS``, then ``../shared/assets`` beside the
checkout, then a download from the manifest's source (sha256-checked); when none works the test is
skipped and says why.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
DETECTOR_FILE = "detection_mobilenet0.25_Final.pth"
# The one wall-clock limit a test may use: a guard against a true hang (a subprocess or a server that never
# answers), never a speed check. An hour is over 10× the idle time of the slowest test (the quality
# benchmark's smoke run); speed is measured by the benchmarks, not asserted by tests.
HANG_GUARD_S = 3600


def assets_dir() -> Path | None:
    for candidate in (os.environ.get("GPDFACE_TEST_ASSETS"), REPO.parent / "shared" / "assets"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def asset(relative: str) -> Path:
    """A file from the test assets, or skip the test with the reason."""
    base = assets_dir()
    if base is not None and (base / relative).exists():
        return base / relative
    pytest.skip(
        f"test asset {relative} not found: set GPDFACE_TEST_ASSETS or place ../shared/assets beside the checkout"
    )


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory, monkeypatch):
    """Every test gets its own gpdface home and Hugging Face cache, and no weights path."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("GPDFACE_HOME", str(home / "gpdface"))
    monkeypatch.setenv("HF_HOME", str(home / "hf"))
    for name in ("HF_HUB_CACHE", "GPDFACE_WEIGHTS_PATH", "GPDFACE_MANIFEST", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture(scope="session")
def detector_dir(tmp_path_factory) -> Path:
    """A folder holding the RetinaFace MobileNet weights: shared assets, else a download, else skip."""
    base = assets_dir()
    if base is not None and (base / "detectors" / DETECTOR_FILE).is_file():
        return base / "detectors"
    from gpdface.errors import WeightsError
    from gpdface.hub import fetch_entry
    from gpdface.manifest import load_manifest

    os.environ.setdefault("GPDFACE_HOME", str(tmp_path_factory.mktemp("dl")))
    try:
        path = next(iter(fetch_entry(load_manifest().detectors["retinaface_mobile0.25"]).values()))
    except WeightsError as exc:
        pytest.skip(f"RetinaFace weights unavailable: not in test assets and the download failed ({exc})")
    return path.parent


@pytest.fixture
def with_detector(detector_dir, monkeypatch) -> Path:
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(detector_dir))
    return detector_dir


@pytest.fixture(scope="session")
def detector(detector_dir):
    from gpdface.face.detect import RetinaFaceDetector

    return RetinaFaceDetector(weights=detector_dir / DETECTOR_FILE)


# Real photographs shipped by packages the test extra installs (both public domain).
@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))


@pytest.fixture(scope="session")
def two_faces(astronaut, grace_hopper) -> np.ndarray:
    """Astronaut and Grace Hopper side by side, both 512 px high."""
    hopper = np.asarray(Image.fromarray(grace_hopper).resize((round(512 * 512 / 600), 512), Image.LANCZOS))
    return np.concatenate([astronaut, hopper], axis=1)


@pytest.fixture(scope="session")
def no_face() -> np.ndarray:
    from skimage import data

    return data.coffee()


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    """The ``2 3`` similarity transform with this scale, rotation and translation."""
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


class IdentityNet(torch.nn.Module):
    """Stands in for a student: returns its input, so pipeline geometry can be checked exactly."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def make_style(directory: Path, name: str = "teststyle", seed: int = 0, **info) -> Path:
    """A style folder with a freshly initialised student — for tests only, never shipped."""
    from gpdface.nets import StudentConfig, StudentNet
    from gpdface.style import StyleInfo, save_style

    torch.manual_seed(seed)
    model = StudentNet(StudentConfig(resolution=info.pop("crop_size", 256))).eval()
    return save_style(directory / name, model, StyleInfo(name, crop_size=model.config.resolution, **info))


@pytest.fixture
def style_dir(tmp_path) -> Path:
    return make_style(tmp_path / "styles")
