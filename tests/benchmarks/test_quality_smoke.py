"""The quality and frame-oracle benchmarks run end to end on a few CUFS pairs and report every setting."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import asset

REPO = Path(__file__).resolve().parents[2]


def copy_pairs(source: Path, dest: Path, count: int) -> Path:
    for sub in ("photos", "sketches"):
        (dest / sub).mkdir(parents=True)
        for path in sorted((source / sub).iterdir())[:count]:
            shutil.copy(path, dest / sub / path.name)
    return dest


def test_quality_benchmark_quick(with_detector, tmp_path):
    train = copy_pairs(asset("cufs/cuhk/train"), tmp_path / "train", 4)
    test = copy_pairs(asset("cufs/ar/test"), tmp_path / "test", 3)
    teachers = asset("teachers/dcgan64_digiface.safetensors").parent
    env = {**os.environ, "GPDFACE_WEIGHTS_PATH": f"{with_detector}{os.pathsep}{teachers}"}
    out = tmp_path / "quality.json"
    args = [
        sys.executable,
        str(REPO / "benchmarks" / "quality.py"),
        "--train",
        str(train),
        "--test",
        str(test),
        "--quick",
        "--shots",
        "2",
        "--ablation-shots",
        "2",
        "--work",
        str(tmp_path / "work"),
        "--grid-dir",
        str(tmp_path / "grids"),
        "--out",
        str(out),
    ]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["complete"] is True
    frame = report["teachers"]["lfw64"]  # the default teacher
    settings = {"anchors_only", "plain_distill", "gpd", "ceiling"}
    ablations = {"gpd_no_relative", "gpd_no_adversarial", "gpd_no_confidence"}
    for metric in ("ssim", "fsim"):
        assert set(frame["results"][metric]) == settings | ablations
        for setting in frame["results"][metric].values():
            assert -1 <= setting["2"]["mean"] <= 1 and setting["2"]["runs"] == 1
        assert 0 < frame["grey_photo_floor"][metric] < 1
    assert frame["test_pairs"] == 3 and frame["seconds"]["gpd"] > 0
    assert frame["seconds"]["gpd_no_relative"] > 0
    assert (tmp_path / "grids" / "lfw64_k2_seed0.png").is_file()


def test_frame_oracle_benchmark_scores_finer_frames_higher(with_detector, tmp_path):
    test = copy_pairs(asset("cufs/ar/test"), tmp_path / "test", 2)
    out = tmp_path / "oracle.json"
    args = [sys.executable, str(REPO / "benchmarks" / "frame_oracle.py"), "--test", str(test)]
    args += ["--resolution", "32", "256", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    coarse, fine = report["sketch_through_frame"]["32"], report["sketch_through_frame"]["256"]
    for metric in ("ssim", "fsim"):
        assert report["grey_photo_floor"][metric] < fine[metric] <= 1
        assert coarse[metric] < fine[metric]
    assert report["test_pairs"] == 2
