import cv2
import numpy as np

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
