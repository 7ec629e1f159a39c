"""Two-scale GPD's parts: frames, the encoder, teacher targets for photos, the early stop of adaptation, and
the photo terms of distillation — with tiny step counts."""

import copy
import json
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from conftest import asset
from gpdface.face.align import template_for
from gpdface.train.data.pairs import AlignedPairs
from gpdface.train.gpd.adapt import CHECKPOINT, CURVE, AdaptConfig, adapt, correspondence
from gpdface.train.gpd.encoder import EncoderConfig, encode, train_encoder
from gpdface.train.gpd.frames import FrameMap
from gpdface.train.gpd.targets import build_photo_targets, confidence_from_errors
from gpdface.train.student.distill import DistillConfig, distill_student
from gpdface.train.student.objective import ObjectiveConfig
from gpdface.train.teachers import load_teacher

FFHQ_256, FFHQ_64 = template_for(256), template_for(64)


@pytest.fixture(scope="module")
def teacher():
    return load_teacher("lfw64")  # embedded: the FFHQ frame at 64 px


@pytest.fixture(scope="module")
def photos(detector):
    """Twelve real LFW faces aligned to the 256 px FFHQ frame."""
    from gpdface.face.align import align_face
    from gpdface.imageio import read_image

    folder = asset("faces/lfw-deepfunneled")
    crops = []
    for path in sorted(folder.iterdir())[:40:3]:
        faces = detector.detect(read_image(path).rgb)
        if faces:
            crops.append(align_face(read_image(path).rgb, faces[0].landmarks, 256, FFHQ_256).crop)
    return np.stack(crops[:12])


def test_frame_of_a_same_template_teacher_is_a_plain_reduction(photos):
    frame = FrameMap.between(FFHQ_256, 256, FFHQ_64, 64)
    assert frame.scale == pytest.approx(0.25, abs=1e-4)
    low = frame.to_teacher(photos[:2])
    area = np.stack([cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA) for p in photos[:2]])
    # the template convention: the box-reduced crop moved by 0.375 px (pixel centres at 4j + 1.5)
    moved = np.stack([cv2.warpAffine(a, np.float32([[1, 0, 0.375], [0, 1, 0.375]]), (64, 64),
                                     borderMode=cv2.BORDER_REFLECT_101) for a in area])  # fmt: skip
    assert low.shape == (2, 64, 64, 3) and np.abs(low[:, 2:-2, 2:-2].astype(int) - moved[:, 2:-2, 2:-2]).mean() < 1.5
    # targets come back in the box-reduction convention, lined up with the student's pooled drawing
    back = frame.to_style(low, 64)[:, 2:-2, 2:-2].astype(int)
    assert np.abs(back - area[:, 2:-2, 2:-2]).mean() < np.abs(back - moved[:, 2:-2, 2:-2]).mean()


def test_frame_of_another_template_puts_landmarks_on_it():
    shifted = FFHQ_64 + np.array([1.5, -2.0], np.float32)  # a teacher whose faces sit elsewhere
    frame = FrameMap.between(FFHQ_256, 256, shifted, 64)
    moved = np.c_[FFHQ_256, np.ones(5)] @ frame.matrix.T
    assert np.abs(moved - shifted).max() < 0.05
    image = np.zeros((256, 256, 3), np.uint8)
    cv2.circle(image, (int(FFHQ_256[2, 0]), int(FFHQ_256[2, 1])), 8, (255, 255, 255), -1)  # a dot on the nose
    low = frame.to_teacher(image[None])[0, ..., 0].astype(float)
    ys, xs = np.nonzero(low > 60)
    assert abs(xs.mean() - shifted[2, 0]) < 1.0 and abs(ys.mean() - shifted[2, 1]) < 1.0


def test_encoder_learns_the_teachers_codes_and_resumes(teacher, tmp_path):
    config = EncoderConfig(steps=30, batch_size=16, checkpoint_every=15)
    torch.manual_seed(0)
    with torch.no_grad():
        latents = teacher.sample_latents(16, torch.Generator().manual_seed(9))
        samples = teacher.synthesis(latents)
    untrained = encode(teacher, train_encoder(teacher, EncoderConfig(steps=0), tmp_path / "none"), samples)
    encoder = train_encoder(teacher, config, tmp_path / "enc")
    trained = encode(teacher, encoder, samples)
    assert trained.latents.shape == (16, 100)
    assert trained.errors.mean() < untrained.errors.mean()  # G_s(E(x)) reproduces its samples better
    refined = encode(teacher, encoder, samples, refine_steps=10)
    assert refined.errors.mean() < trained.errors.mean()
    again = train_encoder(teacher, config, tmp_path / "enc", resume=True)  # finished: nothing more to do
    for key, value in encoder.state_dict().items():
        assert torch.equal(again.state_dict()[key], value), key


def test_confidence_is_high_for_well_reproduced_photos():
    errors = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.8])
    c = confidence_from_errors(errors)
    assert (c > 0).all() and (c <= 1).all() and (c.diff() < 0).all()
    assert float(c[2]) == pytest.approx(np.exp(-0.5), abs=1e-6)  # the median photo


def test_photo_targets(teacher, photos, tmp_path):
    encoder = train_encoder(teacher, EncoderConfig(steps=5, batch_size=8), tmp_path)
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    anchors = teacher.sample_latents(3, torch.Generator().manual_seed(1))
    data = build_photo_targets(teacher, teacher, encoder, photos, anchors, frame)
    assert data.photos.shape == (12, 3, 256, 256) and data.photos.dtype == torch.uint8
    assert data.targets.shape == (12, 3, 64, 64) and data.targets.dtype == torch.uint8
    assert data.factor == 4 and data.anchor_targets.shape == (3, 3, 64, 64)
    assert set(data.nearest.tolist()) <= {0, 1, 2} and data.confidence.max() <= 1
    assert (data.uniform().confidence == 1).all() and not (data.confidence == 1).all()


def test_tone_transfer_carries_the_tone_the_reconstruction_missed(teacher, photos, tmp_path):
    from gpdface.train.gpd.targets import missed_by_reconstruction

    flat = np.full((2, 256, 256, 3), 60, np.uint8)  # dark photos …
    made = torch.full((2, 3, 64, 64), 180, dtype=torch.uint8)  # … reconstructed light
    missed = missed_by_reconstruction(flat, made, blur=0.05)
    assert missed.shape == (2, 1, 64, 64) and torch.allclose(missed, torch.full_like(missed, -120.0), atol=0.5)
    encoder = train_encoder(teacher, EncoderConfig(steps=5, batch_size=8), tmp_path)
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    anchors = teacher.sample_latents(3, torch.Generator().manual_seed(1))
    darker = (photos.astype(np.float32) * 0.4).astype(np.uint8)  # the same faces, much darker
    plain = build_photo_targets(teacher, teacher, encoder, darker, anchors, frame)
    carried = build_photo_targets(teacher, teacher, encoder, darker, anchors, frame, tone_transfer=1.0)
    assert torch.equal(plain.latents, carried.latents) and torch.equal(plain.confidence, carried.confidence)
    assert carried.targets.float().mean() < plain.targets.float().mean() - 20  # what G_s(w) missed, carried over


def test_the_transfer_blur_carries_features_a_wide_one_spreads_as_tone():
    from gpdface.train.gpd.targets import TRANSFER_BLUR, missed_by_reconstruction

    photo = np.full((1, 256, 256, 3), 200, np.uint8)
    photo[:, 128:132] = 40  # a dark line 4 px wide (row 32 at 64 px): a feature the reconstruction missed
    made = torch.full((1, 3, 64, 64), 200, dtype=torch.uint8)
    tone = missed_by_reconstruction(photo, made, blur=0.05)[0, 0, :, 32]  # the first version's σ: 3.2 px at 64 px
    features = missed_by_reconstruction(photo, made, blur=TRANSFER_BLUR)[0, 0, :, 32]  # 0.32 px
    assert features[32] < -150 and features[28] > -1  # the line, sharp and in place
    assert -25 < tone[32] < -15 and tone[28] < -5  # the same line spread into a faint band


def test_adaptation_keeps_the_best_correspondence_and_stops_when_it_falls(teacher, tmp_path):
    with torch.no_grad():
        targets = teacher.synthesis(teacher.sample_latents(2, torch.Generator().manual_seed(3))).flip(-1) * 0.3
    anchors = teacher.sample_latents(2, torch.Generator().manual_seed(4))
    # a drop no check can survive: the first check at min_steps is the best, the next one stops the run
    config = AdaptConfig(steps=12, batch_size=4, check_every=2, min_steps=4, correspondence_drop=1e6)
    adapted = adapt(teacher, targets, anchors, config, tmp_path)
    curve = json.loads((tmp_path / CURVE).read_text())
    assert [p["step"] for p in curve] == [2, 4, 6]
    state = torch.load(tmp_path / CHECKPOINT, weights_only=True)
    assert state["stopped_at"] == 6 and state["step"] == 12 and state["best_step"] == 4  # finished, for --resume
    probes = teacher.sample_latents(8, torch.Generator().manual_seed(2))
    kept = correspondence(teacher, adapted, probes)["ratio"]
    at_four = adapt(teacher, targets, anchors, AdaptConfig(steps=4, batch_size=4, check_every=2), tmp_path / "four")
    assert kept == pytest.approx(correspondence(teacher, at_four, probes)["ratio"], rel=1e-5)  # step 4's generator
    resumed = adapt(teacher, targets, anchors, config, tmp_path, resume=True)  # finished: the best again
    assert correspondence(teacher, resumed, probes)["ratio"] == pytest.approx(kept, rel=1e-5)
    never = adapt(teacher, targets, anchors, AdaptConfig(steps=6, batch_size=4, check_every=2), tmp_path / "on")
    state = torch.load(tmp_path / "on" / CHECKPOINT, weights_only=True)
    assert state["stopped_at"] is None and state["best_step"] is None and never is not None


def test_two_scale_distillation_runs_every_term(teacher, photos, tmp_path, monkeypatch):
    encoder = train_encoder(teacher, EncoderConfig(steps=3, batch_size=8), tmp_path / "enc")
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    anchors_latents = teacher.sample_latents(2, torch.Generator().manual_seed(1))
    data = build_photo_targets(teacher, teacher, encoder, photos, anchors_latents, frame)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    sketches = [np.repeat(p.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2) for p in photos[:2]]
    pairs = AlignedPairs(["a", "b"], list(photos[:2]), sketches, [identity] * 2, 256)
    unconditional = ObjectiveConfig(conditional=False, disc_width=8)
    config = DistillConfig(steps=2, batch_size=2, teacher_batch_size=2, objective=unconditional, window=64)
    seen = []
    distill_student(pairs, config, tmp_path / "run", torch.device("cpu"), teacher_data=data,
                    on_step=lambda step, values: seen.append(values))  # fmt: skip
    assert set(seen[-1]) >= {"teacher", "relative", "lowpass_l1", "adversarial", "feature_matching", "disc"}

    from gpdface.train.student.objective import StudentObjective

    shown, call = [], StudentObjective.__call__

    def spy(self, x, y, fake, extra_fakes=None, extra_sources=None):
        shown.append(None if extra_fakes is None else extra_fakes.shape[0])
        return call(self, x, y, fake, extra_fakes=extra_fakes, extra_sources=extra_sources)

    monkeypatch.setattr(StudentObjective, "__call__", spy)
    distill_student(pairs, config, tmp_path / "shown", torch.device("cpu"), teacher_data=data)
    hidden = replace(config, photo_fakes=False)
    distill_student(pairs, hidden, tmp_path / "hidden", torch.device("cpu"), teacher_data=data)
    assert shown == [2, 2, None, None]  # the face bank's drawings as fakes, then not
    with pytest.raises(ValueError, match="unconditional"):
        conditional = DistillConfig(steps=1, batch_size=1)
        distill_student(pairs, conditional, tmp_path / "c", torch.device("cpu"), teacher_data=data)


def test_anchors_and_face_bank_photos_share_every_batch_norm_pass(teacher, photos, tmp_path, monkeypatch):
    """Each step draws the anchors, the face bank's photos and the relative term's anchor windows in one
    forward pass, and the exported statistics are measured on that same mixture: drawn apart, the exported
    student normalised anchor-like photos by the face bank's statistics (docs/few-shot.md)."""
    from gpdface.nets.student import StudentNet

    encoder = train_encoder(teacher, EncoderConfig(steps=2, batch_size=8), tmp_path / "enc")
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    data = build_photo_targets(teacher, teacher, encoder, photos, teacher.sample_latents(2), frame)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    pairs = AlignedPairs(["a", "b"], list(photos[:2]), list(photos[:2]), [identity] * 2, 256)
    sizes, forward = [], StudentNet.forward

    def spy(self, x):
        if self.training:
            sizes.append(tuple(x.shape))
        return forward(self, x)

    monkeypatch.setattr(StudentNet, "forward", spy)
    unconditional = ObjectiveConfig(conditional=False, disc_width=8)
    config = DistillConfig(steps=2, batch_size=2, teacher_batch_size=3, window=64, objective=unconditional)
    distill_student(pairs, config, tmp_path / "run", torch.device("cpu"), teacher_data=data)
    # 2 anchors + 3 photos + their 3 nearest anchors, in one pass, in training and in the recalibration
    assert len(sizes) > 2 and set(sizes) == {(8, 3, 64, 64)}
    sizes.clear()
    no_relative = replace(config.with_weights({"relative": 0.0}), window=66)  # → 64: whole teacher pixels
    distill_student(pairs, no_relative, tmp_path / "run2", torch.device("cpu"), teacher_data=data)
    assert len(sizes) > 2 and set(sizes) == {(5, 3, 64, 64)}  # the anchors' windows cut to the photos'


def test_ink_styles_see_the_face_bank_through_random_tone_curves(teacher, photos, tmp_path):
    """--tone ignore: the student sees each photo darkened or lightened, its target unchanged, so darker skin
    is drawn as the paper-white skin of the exemplars; at 0 (--tone follow) the photos pass untouched."""
    from gpdface.train.student.distill import _PhotoTerms

    encoder = train_encoder(teacher, EncoderConfig(steps=2, batch_size=8), tmp_path)
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    data = build_photo_targets(teacher, teacher, encoder, photos, teacher.sample_latents(2), frame)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    pairs = AlignedPairs(["a", "b"], list(photos[:2]), list(photos[:2]), [identity] * 2, 256)
    batch = torch.from_numpy(photos[:6]).permute(0, 3, 1, 2).float().div(255)
    follow = _PhotoTerms(data, pairs, DistillConfig(photo_tone=0.0), torch.device("cpu"))
    assert torch.equal(follow._retone(batch), batch)
    ignore = _PhotoTerms(data, pairs, DistillConfig(photo_tone=0.8), torch.device("cpu"))
    retoned = ignore._retone(batch)
    change = (retoned - batch).mean(dim=(1, 2, 3))
    assert retoned.shape == batch.shape and retoned.min() >= 0 and retoned.max() <= 1
    assert (change.abs() > 0.01).all() and (change > 0).any() and (change < 0).any()  # lighter and darker both


def test_the_shared_encoder_folder_follows_the_teacher_and_the_config(teacher, tmp_path):
    from gpdface.train.gpd.stages import shared_encoder_dir

    config = EncoderConfig()
    here = shared_encoder_dir(tmp_path, teacher, config)
    assert here == shared_encoder_dir(tmp_path, teacher, config) and here.parent == tmp_path / "encoders"
    assert shared_encoder_dir(tmp_path, teacher, replace(config, steps=config.steps + 1)) != here
    changed = copy.deepcopy(teacher)
    with torch.no_grad():
        next(changed.parameters()).add_(1e-3)
    assert shared_encoder_dir(tmp_path, changed, config) != here


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none here)")
def test_two_scale_distillation_runs_on_cuda_to_the_end(photos, tmp_path):
    """Anchors come off the CPU and the face bank's windows are drawn on the device: the batch-norm
    re-measurement after training once joined them without moving the anchors (seen on an H200)."""
    cuda = torch.device("cuda")
    teacher = load_teacher("lfw64", cuda)
    encoder = train_encoder(teacher, EncoderConfig(steps=2, batch_size=8), tmp_path / "enc")
    frame = FrameMap.between(FFHQ_256, 256, teacher.template, 64)
    data = build_photo_targets(teacher, teacher, encoder, photos, teacher.sample_latents(2), frame)
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    pairs = AlignedPairs(["a", "b"], list(photos[:2]), list(photos[:2]), [identity] * 2, 256)
    config = DistillConfig(steps=2, batch_size=2, teacher_batch_size=2, window=64,
                           objective=ObjectiveConfig(conditional=False, disc_width=8))  # fmt: skip
    model = distill_student(pairs, config, tmp_path / "run", cuda, teacher_data=data)
    assert not model.training and next(model.parameters()).device.type == "cuda"
