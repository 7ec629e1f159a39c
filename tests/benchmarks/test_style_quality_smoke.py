"""The style-quality benchmark runs end to end on a few CUFS pairs and a few unseen LFW faces."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from test_quality_smoke import copy_pairs

from conftest import HANG_GUARD_S, asset, make_style

REPO = Path(__file__).resolve().parents[2]


def test_style_quality_reports_scores_and_tone_across_faces(with_detector, tmp_path):
    test = copy_pairs(asset("cufs/ar/test"), tmp_path / "test", 10)
    untrained = make_style(tmp_path / "styles", "untrained")
    out = tmp_path / "style_quality.json"
    args = [
        sys.executable, str(REPO / "benchmarks" / "style_quality.py"), "--style", "sketch", "--style", str(untrained),
        "--test", str(test), "--faces", str(asset("faces/lfw-deepfunneled")), "--faces-count", "14",
        "--grid-dir", str(tmp_path / "grids"), "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    per_set = report["results"][str(test)]
    assert set(per_set) == {"grey photo (floor)", "artists' sketches", "sketch", str(untrained)}
    artists = per_set["artists' sketches"]["tone_across_faces"]
    assert artists["faces"] == 10
    assert artists["darkest"][1] > artists["darkest"][0]  # CUFS's artists draw every face lighter than its photo
    for label in ("sketch", str(untrained)):
        assert 0 <= per_set[label]["ssim"] <= 1 and per_set[label]["tone_across_faces"]["faces"] == 10
    faces = report["faces"]
    assert faces["bank"] == 2000 and set(faces["styles"]) == {"sketch", str(untrained)}
    for tone in faces["styles"].values():
        assert 10 <= tone["faces"] <= 14 and math.isfinite(tone["slope"])
        assert tone["darkest"][0] < tone["lightest"][0]  # photos sorted by their skin tone
    assert faces["styles"]["sketch"]["darkest"][1] > faces["styles"]["sketch"]["darkest"][0]  # drawn on white
    assert (tmp_path / "grids" / "faces_by_tone.png").is_file()
    assert (tmp_path / "grids" / f"{test.parent.name}_test.png").is_file()
