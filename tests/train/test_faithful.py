"""The terms that keep the person: zero for a drawing that is its photo, larger as the face moves or changes,
and the augmentation moves photos and their drawings together."""

import numpy as np
import pytest
import torch

from gpdface.face.align import align_face, template_for
from gpdface.imageio import to_tensor
from gpdface.train.data.pairs import AUGMENTATIONS, Augment, PairBatches, jitter_matrix
from gpdface.train.student.faithful import (
    FaithfulConfig,
    FaithfulTerms,
    face_mask,
    frozen_batch_statistics,
    landmark_distance,
    structure_distance,
)


@pytest.fixture(scope="module")
def faces(detector, astronaut, grace_hopper):
    """Two aligned real faces at 256 px, as the face bank holds them."""
    crops = []
    for photo in (astronaut, grace_hopper):
        face = detector.detect(photo)[0]
        crops.append(align_face(photo, face.landmarks, 256, template_for(256)).crop)
    return np.stack(crops)


def as_batch(crops: np.ndarray) -> torch.Tensor:
    return torch.stack([to_tensor(c) for c in crops])


def test_the_landmark_term_is_zero_for_identical_images_and_grows_as_the_face_moves(detector, faces):
    photos = as_batch(faces)
    eye = 125.92 * 256 / 512
    distance, drop = landmark_distance(photos, photos, detector, eye)
    assert float(distance) == pytest.approx(0.0, abs=1e-3) and float(drop) == pytest.approx(0.0, abs=1e-6)
    shifted = torch.roll(photos, shifts=12, dims=-1)  # the whole face 12 px to the right
    moved, _ = landmark_distance(shifted, photos, detector, eye)
    assert 0.12 < float(moved) < 0.3  # about 12 px over a 63 px eye distance
    blank = torch.zeros_like(photos)  # no face at all: far away, and much less surely a face
    _gone, lost = landmark_distance(blank, photos, detector, eye)
    assert float(lost) > 1.0


def test_the_landmark_term_sends_gradients_to_the_drawing_only(detector, faces):
    drawn = torch.roll(as_batch(faces), shifts=8, dims=-2).requires_grad_(True)
    distance, _ = landmark_distance(drawn, as_batch(faces), detector, 63.0)
    distance.backward()
    assert drawn.grad is not None and float(drawn.grad.abs().sum()) > 0
    assert all(p.grad is None for p in detector.model.parameters())


def test_the_structure_term_sees_the_layout_not_the_tone_range(faces):
    photos = as_batch(faces)
    mask = face_mask(256, 8)
    assert float(structure_distance(photos, photos, mask)) == pytest.approx(0.0, abs=1e-5)
    lighter = photos * 0.5 + 0.5  # the same face in a lighter, flatter tone range: the same layout
    assert float(structure_distance(lighter, photos, mask)) < 0.05
    mirrored_upside_down = photos.flip(-2)
    assert float(structure_distance(mirrored_upside_down, photos, mask)) > 0.5


def test_each_term_changes_the_loss_and_zero_switches_it_off(faces, detector_dir, monkeypatch):
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(detector_dir))
    photos = as_batch(faces)
    drawn = torch.roll(photos, shifts=10, dims=-1) * 0.8
    values = {}
    for landmarks, structure in ((0, 0), (1, 0), (0, 1), (1, 1)):
        terms = FaithfulTerms(faces, FaithfulConfig(landmarks=landmarks, structure=structure), torch.device("cpu"), 0)
        total, logged = terms.loss(photos, drawn)
        values[(landmarks, structure)] = float(total)
        assert set(logged) == {n for n, w in (("landmarks", landmarks), ("structure", structure)) if w}
    assert values[(0, 0)] == 0.0 and values[(1, 0)] > 0 and values[(0, 1)] > 0
    assert values[(1, 1)] == pytest.approx(values[(1, 0)] + values[(0, 1)], rel=1e-5)


def test_the_photos_are_augmented_whole_and_stay_faces(faces, detector_dir, monkeypatch, detector):
    monkeypatch.setenv("GPDFACE_WEIGHTS_PATH", str(detector_dir))
    terms = FaithfulTerms(faces, FaithfulConfig(landmarks=1, batch_size=6), torch.device("cpu"), 0)
    batch = terms.sample()
    assert batch.shape == (6, 3, 256, 256) and batch.dtype == torch.float32
    assert float(batch.min()) >= -1 and float(batch.max()) <= 1
    found, _ = detector.landmark_field(batch)
    assert (found.max(dim=1).values > 0.5).all()  # rolled ±20°, rescaled, recoloured: still a face each


def test_wide_augmentation_moves_source_and_target_together(faces):
    """A pair stays a pair: the same random similarity is applied to both images (the target is the source
    here, so after augmentation they must still agree wherever the photometric jitter leaves them alone)."""
    rng = np.random.default_rng(0)
    wide = AUGMENTATIONS["wide"]
    assert wide.rotate_deg == 20.0 and wide.scale > Augment().scale
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    matrices = [jitter_matrix(identity, 256, wide, rng) for _ in range(50)]
    angles = [np.degrees(np.arctan2(m[1, 0], m[0, 0])) for m in matrices]
    assert max(abs(a) % 180 for a in angles) > 10  # rolls well beyond the standard ±5°
    from gpdface.train.data.pairs import AlignedPairs

    pairs = AlignedPairs(["a", "b"], list(faces), list(faces), [identity, identity], 256)
    batches = PairBatches(pairs, 4, Augment(gamma=0, brightness=0, contrast=0, saturation=0, grey_probability=0,
                                          rotate_deg=20, scale=0.15, shift=0.06), 0, 128)  # fmt: skip
    x, y = batches.sample()
    assert torch.allclose(x, y, atol=1e-6)


def test_frozen_batch_statistics_leave_the_running_averages_alone():
    from gpdface.nets import StudentConfig, StudentNet

    model = StudentNet(StudentConfig(resolution=64)).train()
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
    with frozen_batch_statistics(model):
        model(torch.rand(2, 3, 64, 64) * 2 - 1)
    after = {k: v for k, v in model.state_dict().items() if "running" in k}
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(m.training for m in model.modules())  # and training mode is back
