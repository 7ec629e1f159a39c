"""The quality and frame-oracle benchmarks run end to end on a few CUFS pairs and report every setting."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import HANG_GUARD_S, asset
from gpdface.train.student.distill import DistillConfig

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
    out = tmp_path / "quality.json"
    args = [
        sys.executable, str(REPO / "benchmarks" / "quality.py"), "--train", str(train), "--test", str(test),
        "--photos", str(asset("faces/lfw-deepfunneled")), "--quick", "--shots", "2", "--ablation-shots", "2",
        "--loss", "teacher=3", "--unseen-faces", "12",
        "--work", str(tmp_path / "work"), "--grid-dir", str(tmp_path / "grids"), "--out", str(out),
    ]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["complete"] is True and report["resolution"] == 256 and report["teacher"] == "lfw64"
    assert report["loss"] == {"teacher": 3.0} and report["terms"]["teacher"] == 3.0  # asked, and trained with
    assert report["terms"]["relative"] == DistillConfig().relative_weight  # the others keep their defaults
    settings = {"anchors_only", "plain_distill", "gpd", "ceiling"}
    ablations = {"gpd_no_teacher", "gpd_no_disc", "gpd_no_confidence", "gpd_no_photo_fakes"}
    metrics = {"ssim", "fsim", "tone_slope", "tone_darkest"} | ({"rank1"} if "rank1" in report["floor"] else set())
    assert set(report["results"]) == metrics
    for metric in metrics:
        assert set(report["results"][metric]) == settings | ablations
        bound = {"tone_darkest": 255, "tone_slope": 5}.get(metric, 1)  # a grey level, a slope; scores in [-1, 1]
        for setting in report["results"][metric].values():
            assert -bound <= setting["2"]["mean"] <= bound and setting["2"]["runs"] == 1
            assert setting["2"]["by_seed"] == {"0": setting["2"]["mean"]}  # poolable with other runs
        if not metric.startswith("tone"):
            assert 0 <= report["floor"][metric] <= 1
    assert report["floor"]["tone_slope"] == pytest.approx(1.0)  # the photos against themselves
    assert 0 < report["floor"]["tone_darkest"] < 255
    assert report["test_pairs"] == 3 and report["face_bank"] >= 50
    assert report["seconds_by_setting"]["gpd"] > 0 and report["seconds_by_setting"]["gpd_no_disc"] > 0
    assert (tmp_path / "grids" / "k2_seed0.png").is_file()
    table = subprocess.run([sys.executable, str(REPO / "benchmarks" / "quality_table.py"), str(out)], text=True,
                           capture_output=True, check=True).stdout  # fmt: skip
    assert "two-scale GPD" in table and "GPD without the patch discriminator" in table
    assert "face-bank drawings not shown to the discriminator" in table
    assert "skin tone on unseen in-the-wild faces" in table


def test_frame_oracle_benchmark_scores_finer_frames_higher(with_detector, tmp_path):
    test = copy_pairs(asset("cufs/ar/test"), tmp_path / "test", 2)
    out = tmp_path / "oracle.json"
    args = [sys.executable, str(REPO / "benchmarks" / "frame_oracle.py"), "--test", str(test)]
    args += ["--resolution", "32", "256", "--out", str(out)]
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    coarse, fine = report["sketch_through_frame"]["32"], report["sketch_through_frame"]["256"]
    for metric in ("ssim", "fsim"):
        assert report["grey_photo_floor"][metric] < fine[metric] <= 1
        assert coarse[metric] < fine[metric]
    assert report["test_pairs"] == 2
