import cv2
import numpy as np

from gpdface.face.align import FFHQ_TEMPLATE_512, align_face, estimate_alignment, template_for
from gpdface.face.blend import feather_mask, footprint, paste_faces


def similarity(scale, angle_deg, tx, ty):
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_template_scales_with_crop():
    assert np.allclose(template_for(256), FFHQ_TEMPLATE_512 / 2)
    assert np.allclose(template_for(512), FFHQ_TEMPLATE_512)


def test_estimate_recovers_a_known_similarity():
    template = template_for(256)
    truth = similarity(0.7, 12, 30, -5)  # photo → crop
    photo_points = cv2.transform(template[None], cv2.invertAffineTransform(truth))[0]
    assert np.allclose(estimate_alignment(photo_points, template), truth, atol=1e-3)


def test_align_then_paste_back_reproduces_the_face_region(astronaut):
    template = template_for(256)
    matrix = similarity(1.3, -8, -40, 20)
    landmarks = cv2.transform(template[None], cv2.invertAffineTransform(matrix))[0]
    face = align_face(astronaut, landmarks, 256, template)
    pasted = paste_faces(astronaut, [face.crop], [face.inverse])
    # Where the mask is fully on, the round trip of an unchanged crop is two bilinear resamplings.
    mask = cv2.warpAffine(feather_mask(256), face.inverse, astronaut.shape[1::-1])
    inside = mask > 0.99
    assert inside.sum() > 10_000
    error = np.abs(pasted.astype(int) - astronaut.astype(int))[inside]
    assert error.mean() < 6


def test_pixels_outside_the_mask_are_bit_identical(astronaut):
    template = template_for(256)
    landmarks = cv2.transform(template[None], cv2.invertAffineTransform(similarity(1.5, 5, -60, -30)))[0]
    face = align_face(astronaut, landmarks, 256, template)
    white = np.full_like(face.crop, 255)
    pasted = paste_faces(astronaut, [white], [face.inverse])
    mask = cv2.warpAffine(feather_mask(256), face.inverse, astronaut.shape[1::-1])
    outside = mask == 0
    assert np.array_equal(pasted[outside], astronaut[outside])
    assert (pasted != astronaut).any(axis=2).sum() > 5_000  # and the face region did change


def test_seamless_band(astronaut):
    """Across the feathered band the change from the photo grows smoothly, without a step."""
    template = template_for(256)
    landmarks = cv2.transform(template[None], cv2.invertAffineTransform(similarity(1.2, 0, -40, -40)))[0]
    face = align_face(astronaut, landmarks, 256, template)
    grey = np.full_like(face.crop, 128)
    pasted = paste_faces(astronaut, [grey], [face.inverse]).astype(float)
    weight = np.abs(pasted - astronaut) / np.maximum(np.abs(128.0 - astronaut), 1)
    row = weight[int(face.inverse[1, 2] + 128 / 1.2), :, :].mean(axis=1)  # a row through the face
    steps = np.abs(np.diff(row))
    assert steps.max() < 0.2


def test_footprint_is_clipped_and_none_off_photo():
    inv = cv2.invertAffineTransform(similarity(1.0, 0, 0, 0))
    assert footprint(inv, 100, 50, 50) == (0, 0, 50, 50)
    assert footprint(cv2.invertAffineTransform(similarity(1.0, 0, 500, 500)), 100, 50, 50) is None


def test_largest_face_is_on_top():
    photo = np.zeros((200, 200, 3), np.uint8)
    small = cv2.invertAffineTransform(similarity(2.0, 0, -100, -100))  # crop covers 50..150 at half scale
    large = cv2.invertAffineTransform(similarity(1.0, 0, -50, -50))
    red, blue = np.zeros((100, 100, 3), np.uint8), np.zeros((100, 100, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    out = paste_faces(photo, [blue, red], [large, small])
    centre = out[100, 100]
    assert centre[2] == 255 and centre[0] == 0  # the large (blue) face covers the small one
