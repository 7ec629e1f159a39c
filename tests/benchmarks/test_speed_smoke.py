"""The speed benchmark runs end to end (`--quick`) and reports every figure; no time is asserted."""

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import HANG_GUARD_S

REPO = Path(__file__).resolve().parents[2]


def test_speed_benchmark_quick(with_detector, tmp_path):
    out = tmp_path / "speed.json"
    env = {**os.environ, "GPDFACE_WEIGHTS_PATH": str(with_detector)}
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "speed.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=HANG_GUARD_S,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    fp32 = report["results"]["float32"]
    assert fp32["limit"]["conv_gflops"] > 0 and fp32["student"][0]["gflop_per_face"] > 1
    assert fp32["pipeline_1024"]["1_face"]["faces"] == 1 and fp32["pipeline_1024"]["4_face"]["faces"] == 4
    assert report["teacher_route"]["route_s"] > report["teacher_route"]["synthesis_s"] > 0
    assert report["ratios"]["teacher_route_over_student_pipeline"] > 0
    assert report["memory_24mp"]["exit_code"] == 0 and report["memory_24mp"]["peak_rss_mb"] > 0
    for backend, row in report["backends"].items():  # torch, and onnxruntime where the extra is installed
        assert "error" in row or (
            row["student_256"]["batch_1_ms_per_face"] > 0 and row["pipeline_1024_1_face"]["faces"] == 1
        ), backend
    assert "error" not in report["backends"]["torch"]
