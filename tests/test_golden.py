"""Golden outputs: what a user gets from every shipped style on a fixed photo, stored small.

Refactoring must not change a picture. Each style translates the two-face photo (NASA's Eileen Collins and
the US Navy's Grace Hopper side by side, both public domain) with its own defaults; the result and the
first face's crop, shrunk by area averaging, must match ``tests/golden/<style>_{photo,crop}.png``:
mean difference ≤ 0.5 grey level and no pixel off by more than 8 (room for float rounding on other CPUs,
none for a change anyone could see).

A deliberate change (a retrained style) regenerates them: ``GPDFACE_UPDATE_GOLDEN=1 pytest tests/test_golden.py``,
and the new pictures are looked at and committed with the change.
"""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from gpdface.manifest import load_manifest

GOLDEN = Path(__file__).parent / "golden"
SHIPPED = sorted(name for name, entry in load_manifest().styles.items() if entry.embedded)
PHOTO_WIDTH, CROP_SIDE = 192, 64
MEAN_TOLERANCE, MAX_TOLERANCE = 0.5, 8


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    height = round(image.shape[0] * width / image.shape[1])
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def check_or_update(actual: np.ndarray, path: Path) -> None:
    if os.environ.get("GPDFACE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        Image.fromarray(actual).save(path)
        return
    if not path.is_file():
        pytest.fail(f"{path.name} missing: run GPDFACE_UPDATE_GOLDEN=1 pytest tests/test_golden.py, look, commit")
    expected = np.asarray(Image.open(path).convert("RGB")).astype(float)
    assert actual.shape == expected.shape
    difference = np.abs(actual.astype(float) - expected)
    assert difference.mean() <= MEAN_TOLERANCE and difference.max() <= MAX_TOLERANCE, (
        f"{path.name}: mean difference {difference.mean():.3f}, largest {difference.max():.0f}"
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_style_draws_what_it_drew(with_detector, two_faces, name):
    from gpdface import Translator

    result = Translator(name, device="cpu")(two_faces)
    assert len(result.faces) == 2
    check_or_update(shrink(result.image, PHOTO_WIDTH), GOLDEN / f"{name}_photo.png")
    check_or_update(shrink(result.faces[0].crop, CROP_SIDE), GOLDEN / f"{name}_crop.png")


def test_a_changed_picture_fails(tmp_path, monkeypatch):
    """The comparison can fail: a picture one grey level brighter everywhere is not the golden one."""
    monkeypatch.delenv("GPDFACE_UPDATE_GOLDEN", raising=False)
    image = np.full((8, 8, 3), 100, np.uint8)
    Image.fromarray(image).save(tmp_path / "g.png")
    check_or_update(image, tmp_path / "g.png")
    with pytest.raises(AssertionError, match="mean difference"):
        check_or_update(image + 1, tmp_path / "g.png")
