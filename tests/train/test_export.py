"""Shaping a trained student for export: grey exemplars give a student whose drawings are exactly grey."""

import numpy as np
import torch

from gpdface.nets.student import StudentConfig, StudentNet
from gpdface.train.student.export import is_grey, make_output_grey


def test_grey_exemplars_are_told_from_colour_ones():
    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (32, 32, 1), dtype=np.uint8), 3, axis=2)
    jpeg_like = np.clip(grey.astype(int) + rng.integers(-1, 2, grey.shape), 0, 255).astype(np.uint8)
    colour = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert is_grey([grey, jpeg_like])
    assert not is_grey([grey, colour])
    # a scanned pencil sketch: warm paper tint (CUFS's AR sketches reach a spread of 20) — still grey
    scanned = np.clip(grey.astype(int) + np.array([10, 4, -8]), 0, 255).astype(np.uint8)
    assert is_grey([scanned])
    # a muted colour drawing (brown pencil on cream): colour, kept
    muted = np.clip(grey.astype(int) + np.array([30, 0, -30]), 0, 255).astype(np.uint8)
    assert not is_grey([muted])


def test_the_grey_student_draws_grey_and_stays_near_the_colour_one():
    torch.manual_seed(0)
    model = StudentNet(StudentConfig(resolution=32, channels=(8, 16), res_blocks=1)).eval()
    photo = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        before = model(photo)
        after = make_output_grey(model)(photo)
    assert (after.amax(dim=1) - after.amin(dim=1)).max() < 1e-6  # every pixel grey
    low, high = before.amin(dim=1) - 1e-6, before.amax(dim=1) + 1e-6
    assert (after[:, 0] >= low).all() and (after[:, 0] <= high).all()  # within the three channels it replaces
