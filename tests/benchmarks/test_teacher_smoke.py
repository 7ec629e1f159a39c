"""The teacher benchmark runs end to end on a handful of photos and reports every check for both sides."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import HANG_GUARD_S, asset

REPO = Path(__file__).resolve().parents[2]


def test_teacher_benchmark_small(with_detector, tmp_path, astronaut, grace_hopper):
    faces = tmp_path / "faces"
    for person, image in (("Eileen_Collins", astronaut), ("Grace_Hopper", grace_hopper)):
        (faces / person).mkdir(parents=True)
        for i in range(6):
            shifted = np.roll(image, 3 * i, axis=1)
            Image.fromarray(np.ascontiguousarray(shifted)).save(faces / person / f"{person}_{i + 1:04d}.jpg")
    teachers = asset("teachers/dcgan64_digiface.safetensors").parent
    env = {**os.environ, "GPDFACE_WEIGHTS_PATH": f"{with_detector}{os.pathsep}{teachers}",
           "GPDFACE_HOME": str(tmp_path / "home")}  # fmt: skip
    out = tmp_path / "teacher.json"
    args = [sys.executable, str(REPO / "benchmarks" / "teacher.py"), "--faces", str(faces), "--teacher", "dcgan64",
            "--holdout", "6", "--samples", "24", "--work", str(tmp_path / "work"), "--grid-dir", str(tmp_path),
            "--reconstruct", "4", "--project", "2", "--encoder-steps", "3", "--projection-steps", "2",
            "--out", str(out)]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=HANG_GUARD_S)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["train_faces"] == 6 and report["real_heldout"]["faces"] == 6
    assert report["real_heldout"]["face_rate"] == 1.0  # real photos of one face each
    checks = report["teachers"]["dcgan64"]
    assert 0 < checks["face_rate"] <= 1 and checks["diversity"] > 0
    assert checks["nearest_train_mean"] > checks["nearest_train_p01"] > 0
    assert 0 <= checks["share_nearer_than_heldout_p01"] <= 1
    assert np.isfinite(checks["kid_x1000"]) and checks["kid_x1000_std"] >= 0
    assert np.isfinite(report["real_heldout"]["kid_x1000_train_vs_heldout"])
    rebuilt = checks["reconstruction"]
    assert rebuilt["faces"] == 4 and rebuilt["projected_faces"] == 2 and rebuilt["encoder_steps"] == 3
    assert 0 < rebuilt["encoder_median"] < 3 and 0 < rebuilt["projection_median"] < 3
    assert list((tmp_path / "home" / "encoders").glob("dcgan64-*/encoder.ckpt"))  # where finetune looks for it
    assert (tmp_path / "teacher_dcgan64_reconstruction_64.png").is_file()
    assert (tmp_path / "teacher_dcgan64_samples.png").is_file() and (tmp_path / "teacher_dcgan64_nearest.png").is_file()
