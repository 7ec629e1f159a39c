"""The teachers' sample-quality distance: KID on the pinned detector's backbone features."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import asset
from gpdface.imageio import read_image
from gpdface.train.evaluation.sample_distance import face_features, kernel_distance


def test_kernel_distance_is_about_zero_within_a_distribution_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 16)), rng.normal(size=(300, 16))
    same, _ = kernel_distance(a, b, subsets=20)
    small, _ = kernel_distance(a, b + 0.3, subsets=20)
    large, _ = kernel_distance(a, b + 1.0, subsets=20)
    assert abs(same) < 0.2 * small and small < large
    assert kernel_distance(a, b, subsets=20)[0] == same  # seeded: the same subsets every call
    with pytest.raises(ValueError, match="one D"):
        kernel_distance(a, b[:, :3])


def test_blurred_faces_are_farther_from_real_faces_than_other_real_faces_are(detector):
    folder = asset("faces/lfw-deepfunneled")
    photos = sorted(folder.rglob("*_0001.jpg"))[:48]
    # deep-funneled LFW photos are centred on the face: the middle 120 px hold it, as an aligned crop does
    faces = np.stack([cv2.resize(read_image(p).rgb[65:185, 65:185], (64, 64), interpolation=cv2.INTER_AREA)
                      for p in photos])  # fmt: skip
    blurred = np.stack([cv2.GaussianBlur(face, (0, 0), 2.0) for face in faces])
    features = face_features(faces, detector)
    assert features.shape[0] == 48 and np.isfinite(features).all()
    real_vs_real, _ = kernel_distance(features[:24], features[24:], subsets=20, subset_size=24)
    real_vs_blurred, _ = kernel_distance(
        features[:24], face_features(blurred[24:], detector), subsets=20, subset_size=24
    )
    assert real_vs_blurred > 3 * max(real_vs_real, 0.0) and real_vs_blurred > 0
