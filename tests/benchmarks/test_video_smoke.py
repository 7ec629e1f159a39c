"""The video benchmark runs end to end (`--quick`) and reports every figure; no time is asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_video_benchmark_quick(with_detector, tmp_path):
    pytest.importorskip("av", reason="PyAV is the video extra")
    out = tmp_path / "video.json"
    env = {**os.environ, "GPDFACE_WEIGHTS_PATH": str(with_detector)}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "video.py"), "--quick", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=REPO / "benchmarks",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    for setting in ("raw", "smoothed", "smoothed_detect_every_10"):
        figures = report["steadiness"][setting]
        assert figures["landmark_rms_px"] >= 0 and figures["jitter_rms_px"] >= 0 and figures["flicker"] > 0
        assert len(figures["faces_per_frame"]) == report["frames"]
    assert set(report["speed"]["320x240"]) == {"detect_every_1", "detect_every_10"}
    assert all(row["frames"] == 4 for row in report["speed"]["320x240"].values())
