import cv2
import numpy as np
import pytest

from conftest import similarity
from gpdface.face.align import FFHQ_TEMPLATE_512, estimate_alignment, template_for


def test_template_scales_with_crop():
    assert np.allclose(template_for(256), FFHQ_TEMPLATE_512 / 2)
    assert np.allclose(template_for(512), FFHQ_TEMPLATE_512)


def test_estimate_recovers_a_known_similarity():
    template = template_for(256)
    truth = similarity(0.7, 12, 30, -5)  # photo → crop
    photo_points = cv2.transform(template[None], cv2.invertAffineTransform(truth))[0]
    assert np.allclose(estimate_alignment(photo_points, template), truth, atol=1e-3)


def test_degenerate_or_non_finite_landmarks_are_a_typed_error():
    from gpdface.errors import InputError

    template = template_for(256)
    with pytest.raises(InputError, match="degenerate landmarks"):
        estimate_alignment(np.full((5, 2), 40.0), template)
    with pytest.raises(InputError, match="finite"):
        estimate_alignment(np.full((5, 2), np.nan), template)


def test_the_least_squares_fallback_recovers_a_similarity_exactly():
    from gpdface.face.align import least_squares_similarity

    template = template_for(256).astype(np.float64)
    angle, scale = 0.4, 0.6
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (template - [7.0, -3.0]) @ np.linalg.inv(rotation).T
    matrix = least_squares_similarity(points, template)
    assert np.allclose(points @ matrix[:, :2].T + matrix[:, 2], template, atol=1e-9)


@pytest.mark.parametrize("spread", [1e3, 1e6, 1e9])
def test_landmarks_far_outside_the_image_are_refused_at_once(spread):
    """Reflecting the border out to landmarks a billion pixels away never finished; such landmarks place no
    face in the image, so they are refused (a face cut by the edge is still aligned: the next test)."""
    from gpdface.errors import InputError
    from gpdface.face.align import FFHQ_TEMPLATE_512, align_face, template_for

    image = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(InputError, match="far outside"):
        align_face(image, FFHQ_TEMPLATE_512 / 512 * spread, 256, template_for(256))


def test_a_face_cut_by_the_edge_is_still_aligned():
    from gpdface.face.align import FFHQ_TEMPLATE_512, align_face, template_for

    image = np.full((200, 200, 3), 128, np.uint8)
    landmarks = FFHQ_TEMPLATE_512 / 512 * 200 + np.array([150.0, 0.0])  # the right half outside the photo
    assert align_face(image, landmarks, 256, template_for(256)).crop.shape == (256, 256, 3)
