"""The head-following paste mask and the paste itself."""

import cv2
import numpy as np
import pytest

from conftest import similarity
from gpdface.errors import ShapeError
from gpdface.face.align import align_face, template_for
from gpdface.face.blend import head_mask, paste_faces

SIZE = 256


def aligned_landmarks(crop_size: int = SIZE, scale: float = 1.0, angle: float = 0.0) -> np.ndarray:
    """Template landmarks moved by a small similarity about the crop centre (a face not exactly on the template)."""
    c = (crop_size - 1) / 2
    m = similarity(scale, angle, 0, 0)
    m[:, 2] = [c, c] - m[:, :2] @ [c, c]
    return cv2.transform(template_for(crop_size)[None], m)[0]


def half_contour(mask: np.ndarray) -> np.ndarray:
    """The mask's 0.5 iso-line as an ``N 2`` closed polyline of pixel positions."""
    contours, _ = cv2.findContours((mask > 0.5).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    assert len(contours) == 1
    return contours[0][:, 0, :].astype(np.float64)


def straightest_run(contour: np.ndarray, span: int) -> float:
    """The smallest bulge (max distance of the points from their chord) over every run of ``span`` contour
    points: 0 for a run that lies on a straight line."""
    count, bulges = len(contour), []
    for start in range(0, count, 2):
        run = contour[np.arange(start, start + span) % count]
        chord = run[-1] - run[0]
        length = np.hypot(*chord)
        normal = np.array([-chord[1], chord[0]]) / length
        bulges.append(np.abs((run - run[0]) @ normal).max())
    return float(min(bulges))


@pytest.mark.parametrize(("scale", "angle"), [(1.0, 0.0), (0.9, 8.0), (1.1, -12.0)])
def test_head_mask_has_no_straight_edge(scale, angle):
    """Every stretch of the boundary as long as an eye is curved: it bulges away from its chord."""
    mask = head_mask(aligned_landmarks(SIZE, scale, angle), SIZE)
    contour = half_contour(mask)
    span = 40  # pixels of boundary, about the width of an eye in a 256 px crop
    assert straightest_run(contour, span) > 1.0


def test_a_square_mask_fails_the_straight_edge_check():
    """The check above can fail: the old shrunk-square mask has straight sides."""
    square = np.zeros((SIZE, SIZE), np.float32)
    square[30:-30, 30:-30] = 1
    assert straightest_run(half_contour(square), 40) < 0.5


def test_head_mask_covers_the_face_and_stays_inside_the_head_region():
    """A face at 0.6 of the template's size, so that the head region lies well inside the crop."""
    landmarks = aligned_landmarks(SIZE, 0.6)
    mask = head_mask(landmarks, SIZE)
    for x, y in landmarks:  # eyes, nose, mouth: fully the style's
        assert mask[round(y), round(x)] == 1.0
    eyes, mouth = landmarks[:2].mean(0), landmarks[3:].mean(0)
    d = np.hypot(*(mouth - eyes))  # eye-to-mouth distance
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    # The head: 1.9 d either side of the eyes' midpoint, from 1.9 d above the eyes (hair) to 2.7 d below (neck).
    region = (np.abs(xs - eyes[0]) < 1.9 * d) & (ys > eyes[1] - 1.9 * d) & (ys < eyes[1] + 2.7 * d)
    assert region.mean() < 0.6  # a real constraint: most of the crop is outside it
    assert mask[~region].max() == 0.0
    assert mask[region].mean() > 0.5


def test_head_mask_reaches_zero_before_the_crop_border():
    """So the crop's reflected padding is never pasted, even for a face larger than the template's."""
    mask = head_mask(aligned_landmarks(SIZE, 1.15), SIZE)
    assert mask[0].max() == mask[-1].max() == mask[:, 0].max() == mask[:, -1].max() == 0.0
    assert 0.35 < head_mask(aligned_landmarks(), SIZE).mean() < 0.75


def test_head_mask_follows_the_face():
    big, small = head_mask(aligned_landmarks(SIZE, 1.0), SIZE), head_mask(aligned_landmarks(SIZE, 0.7), SIZE)
    assert small.sum() < 0.7 * big.sum()  # a smaller face in the crop, a smaller mask
    tilted = head_mask(aligned_landmarks(SIZE, 1.0, 20.0), SIZE)
    assert np.abs(tilted - big).mean() > 0.01


def test_head_mask_checks_its_input():
    with pytest.raises(ShapeError, match="5 2"):
        head_mask(np.zeros((4, 2)), SIZE)


def place(photo: np.ndarray, matrix: np.ndarray):
    template = template_for(SIZE)
    landmarks = cv2.transform(template[None], cv2.invertAffineTransform(matrix))[0]
    face = align_face(photo, landmarks, SIZE, template)
    return face, head_mask(cv2.transform(landmarks[None], face.matrix)[0], SIZE)


def test_align_then_paste_back_reproduces_the_face_region(astronaut):
    face, mask = place(astronaut, similarity(1.3, -8, -40, 20))
    pasted = paste_faces(astronaut, [face.crop], [face.inverse], [mask])
    # Where the mask is fully on, the round trip of an unchanged crop is two bilinear resamplings.
    inside = cv2.warpAffine(mask, face.inverse, astronaut.shape[1::-1]) > 0.99
    assert inside.sum() > 10_000
    error = np.abs(pasted.astype(int) - astronaut.astype(int))[inside]
    assert error.mean() < 6


def test_pixels_outside_the_mask_keep_the_base_exactly(astronaut):
    face, mask = place(astronaut, similarity(1.5, 5, -60, -30))
    white = np.full_like(face.crop, 255)
    pasted = paste_faces(astronaut, [white], [face.inverse], [mask])
    outside = cv2.warpAffine(mask, face.inverse, astronaut.shape[1::-1]) == 0
    assert np.array_equal(pasted[outside], astronaut[outside])
    assert (pasted != astronaut).any(axis=2).sum() > 5_000  # and the face region did change


def test_seamless_band(astronaut):
    """Across the feathered band the change from the photo grows smoothly, without a step."""
    face, mask = place(astronaut, similarity(1.2, 0, -40, -40))
    grey = np.full_like(face.crop, 128)
    pasted = paste_faces(astronaut, [grey], [face.inverse], [mask]).astype(float)
    weight = np.abs(pasted - astronaut) / np.maximum(np.abs(128.0 - astronaut), 1)
    row = weight[int(face.inverse[1, 2] + 128 / 1.2), :, :].mean(axis=1)  # a row through the face
    steps = np.abs(np.diff(row))
    assert steps.max() < 0.2


def test_footprint_is_clipped_and_none_off_photo():
    from gpdface.face.blend import footprint

    inv = cv2.invertAffineTransform(similarity(1.0, 0, 0, 0))
    assert footprint(inv, 100, 50, 50) == (0, 0, 50, 50)
    assert footprint(cv2.invertAffineTransform(similarity(1.0, 0, 500, 500)), 100, 50, 50) is None


def test_largest_face_is_on_top():
    photo = np.zeros((200, 200, 3), np.uint8)
    small = cv2.invertAffineTransform(similarity(2.0, 0, -100, -100))  # crop covers 50..150 at half scale
    large = cv2.invertAffineTransform(similarity(1.0, 0, -50, -50))
    red, blue = np.zeros((100, 100, 3), np.uint8), np.zeros((100, 100, 3), np.uint8)
    red[..., 0], blue[..., 2] = 255, 255
    mask = head_mask(aligned_landmarks(100), 100)
    out = paste_faces(photo, [blue, red], [large, small], [mask, mask])
    centre = out[100, 100]
    assert centre[2] == 255 and centre[0] == 0  # the large (blue) face covers the small one
