"""RetinaFace on real public-domain photos and images derived from them."""

import cv2
import numpy as np
import pytest

from gpdface.errors import InputError
from gpdface.face.align import align_face, template_for
from gpdface.face.detect import RetinaFaceDetector


def test_one_face_each(detector, astronaut, grace_hopper):
    for photo in (astronaut, grace_hopper):
        faces = detector.detect(photo)
        assert len(faces) == 1
        assert faces[0].score > 0.95 and faces[0].landmarks.shape == (5, 2)


def test_two_faces_side_by_side(detector, two_faces):
    faces = detector.detect(two_faces)
    assert len(faces) == 2
    centres = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert centres[0] < 512 < centres[1]
    assert faces[0].size >= faces[1].size  # largest first


def test_no_face(detector, no_face):
    assert detector.detect(no_face) == []


def test_landmarks_are_ordered_eyes_nose_mouth(detector, astronaut):
    lm = detector.detect(astronaut)[0].landmarks
    assert lm[0, 0] < lm[1, 0] and lm[3, 0] < lm[4, 0]  # left before right
    assert lm[0, 1] < lm[2, 1] < lm[3, 1]  # eyes above nose above mouth


def test_aligned_landmarks_land_on_the_template(detector, astronaut, grace_hopper):
    template = template_for(256)
    for photo in (astronaut, grace_hopper):
        face = align_face(photo, detector.detect(photo)[0].landmarks, 256, template)
        again = detector.detect(cv2.resize(face.crop, (512, 512)))
        assert len(again) == 1
        error = np.abs(again[0].landmarks / 2 - template)  # pixels at 256
        assert error[:2].max() < 4  # the eyes sit on the template
        assert error.mean() < 4  # mouths differ between people; a similarity cannot fit every one


def test_small_face_in_a_large_canvas_is_scaled_back(detector, astronaut):
    canvas = np.full((3000, 4000, 3), 90, np.uint8)
    face = cv2.resize(astronaut, (384, 384))
    canvas[2000:2384, 3000:3384] = face
    found = detector.detect(canvas)  # found on a ≤1024 px copy, landmarks refined at full resolution
    assert len(found) == 1
    direct = detector.detect(face)[0]
    assert np.abs(found[0].landmarks - (direct.landmarks + np.array([3000, 2000]))).max() < 3  # 9 px without refinement


def test_options_threshold_and_min_size(detector_dir, two_faces):
    weights = detector_dir / "detection_mobilenet0.25_Final.pth"
    assert RetinaFaceDetector(weights=weights, min_size=10_000).detect(two_faces) == []
    assert len(RetinaFaceDetector(weights=weights, threshold=0.5).detect(two_faces)) == 2


def test_unknown_detector_name():
    with pytest.raises(InputError, match="unknown detector"):
        RetinaFaceDetector("yolo")


def test_weights_come_from_the_registry(with_detector):
    detector = RetinaFaceDetector()  # resolved through GPDFACE_WEIGHTS_PATH, sha256-checked
    assert detector.name == "retinaface_mobile0.25"


def test_the_coarse_copy_is_just_large_enough_for_the_smallest_face(detector_dir):
    weights = detector_dir / "detection_mobilenet0.25_Final.pth"
    coarse = RetinaFaceDetector(weights=weights)  # scan_face 40: a 40 px face keeps 32 px in the copy
    assert coarse.detection_side(1024) == 820 and coarse.detection_side(4000) == 1024
    assert coarse.detection_side(900) == 720 and coarse.detection_side(700) == 640  # never under 640 px
    assert coarse.detection_side(600) == 600 and coarse.detection_side(300) == 300  # and never upscaled
    assert RetinaFaceDetector(weights=weights, scan_face=None).detection_side(4000) == 1024
    assert RetinaFaceDetector(weights=weights, scan_face=160).detection_side(4000) == 800  # 160 px keeps 32
    with pytest.raises(InputError, match="scan_face"):
        RetinaFaceDetector(weights=weights, scan_face=0)


def test_faces_smaller_than_scan_face_alone_are_found_by_the_finer_pass(detector_dir, astronaut):
    """A 30 px face is under scan_face 160; the coarse copy misses it, the second, finer pass finds it."""
    weights = detector_dir / "detection_mobilenet0.25_Final.pth"
    canvas = np.full((1024, 1024, 3), 90, np.uint8)
    canvas[500:628, 500:628] = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # face ≈ 30 px
    picky = RetinaFaceDetector(weights=weights, scan_face=160)
    assert picky.detection_side(1024) == 640
    assert len(picky._detect_scaled(canvas, 640)) == 0  # too small for the coarse copy
    found = picky.detect(canvas)
    assert len(found) == 1 and 500 < found[0].landmarks[:, 0].mean() < 628


def test_our_decoding_matches_facexlibs_on_real_photos(detector, astronaut, grace_hopper, two_faces, no_face):
    """The anchors and decoding written here (cached per size) give facexlib's detect_faces results."""
    import torch

    sizes = [(512, 512), (1024, 1024), (333, 517)]  # square, large, odd sides (anchor grids round up)
    photos = [cv2.resize(astronaut, size) for size in sizes] + [grace_hopper, two_faces, no_face]
    for photo in photos:
        with torch.inference_mode():
            ours = detector._run_network(photo)
            bgr = np.ascontiguousarray(photo[..., ::-1])
            theirs = detector.model.detect_faces(bgr, conf_threshold=detector.threshold, use_origin_size=True)
        theirs = np.asarray(theirs, np.float64).reshape(-1, 15)
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max(initial=0) < 1e-3  # pixels and score
    assert len(detector._run_network(two_faces)) == 2


def test_a_small_unsure_detection_must_be_found_again_on_its_own_crop(detector, astronaut, no_face):
    """A small low-score box is kept only when, aligned and enlarged, it is detected again as a face: the
    astronaut's face at 40 px is; a patch of the coffee photo given face-like landmarks is not."""
    from gpdface.face.detect import VERIFY_BELOW_PX, DetectedFace

    small = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)  # the face about 40 px
    canvas = np.full((400, 400, 3), 120, np.uint8)
    canvas[100:228, 150:278] = small
    (face,) = detector.detect(canvas)
    assert face.size < VERIFY_BELOW_PX and detector._looks_like(canvas, face)
    points = template_for(40) + np.array([200.0, 150.0])  # five points on the coffee cup's texture
    texture = DetectedFace((200.0, 150.0, 240.0, 190.0), 0.85, points.astype(np.float32))
    assert not detector._looks_like(no_face, texture)
