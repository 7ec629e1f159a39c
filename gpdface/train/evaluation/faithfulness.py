"""Faithfulness: does a drawing keep the person? Measured on whole photos, on faces no style was trained on.

For each face of a photo (found by the project's RetinaFace on the photo), the drawing of the whole photo
is searched again with the same detector:
- ``found``: a face is detected in the drawing where the photo's is (its landmarks' centre within half the
  eye distance of the photo's);
- ``nme``: the five landmarks' mean distance from the photo's, over the photo's eye distance (NME); and
  ``mouth_nme``, the two mouth corners' alone (the mouth is where drawings break: smiles, teeth, lipstick);
- identity: dlib's descriptor of the drawn face (with the photo's geometry, so a style is judged on what it
  draws, not on whether a landmark model can read it) ranked against every photo's face: rank-1;
- tone: the face's median grey in the photo and in the drawing, across faces (``slope``).
Each also per stratum of the photo's face: head yaw (the nose's offset from the eyes' midpoint along the
eye line, over the eye distance), mouth width over eye distance (a smile widens the mouth) and skin tone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ...face.align import estimate_alignment, template_for
from ...face.detect import DetectedFace, Detector
from ...formats import LUMA
from ...imageio import read_image
from ..data.faceset import _identity, evenly_spaced, list_photos

MOUTH = (3, 4)  # the landmarks' mouth corners
IDENTITY_CROP = 256  # dlib's geometry is taken from the photo aligned at this size
# Strata bounds: |yaw| (share of the eye distance) up to 0.1 is frontal, over 0.25 a three-quarter view;
# mouth width over eye distance: the FFHQ template's neutral mouth is 0.89, a broad smile over 1.0.
YAW_BINS = ((0.0, 0.1, "frontal"), (0.1, 0.25, "slightly turned"), (0.25, 9.0, "turned (three-quarter)"))
MOUTH_BINS = ((0.0, 0.85, "narrow mouth"), (0.85, 1.0, "medium mouth"), (1.0, 9.0, "wide mouth (smile)"))
TONE_BINS = ((0.0, 100.0, "dark skin"), (100.0, 150.0, "medium skin"), (150.0, 256.0, "light skin"))


@dataclass(frozen=True)
class FaceCase:
    """One face of a photo: the photo, its detection, and what kind of face it is."""

    name: str
    photo: np.ndarray
    face: DetectedFace

    @property
    def landmarks(self) -> np.ndarray:
        return np.asarray(self.face.landmarks, np.float64)

    @property
    def eye_distance(self) -> float:
        return float(np.linalg.norm(self.landmarks[1] - self.landmarks[0]))

    @property
    def yaw(self) -> float:
        """The nose's offset from the eyes' midpoint along the eye line, over the eye distance (signed)."""
        left, right, nose = self.landmarks[0], self.landmarks[1], self.landmarks[2]
        axis = (right - left) / max(self.eye_distance, 1e-6)
        return float((nose - (left + right) / 2) @ axis / max(self.eye_distance, 1e-6))

    @property
    def mouth_width(self) -> float:
        return float(np.linalg.norm(self.landmarks[4] - self.landmarks[3]) / max(self.eye_distance, 1e-6))

    @property
    def tone(self) -> float:
        return face_tone(self.photo, self.landmarks)

    def strata(self) -> dict[str, str]:
        return {
            "yaw": _bin(abs(self.yaw), YAW_BINS),
            "mouth": _bin(self.mouth_width, MOUTH_BINS),
            "skin": _bin(self.tone, TONE_BINS),
        }


def _bin(value: float, bins) -> str:
    return next(label for low, high, label in bins if low <= value < high)


def face_tone(image: np.ndarray, landmarks: np.ndarray) -> float:
    """Median grey (0–255) of the skin between the eyes and the mouth: a box around the nose, half the eye
    distance wide, from the eyes' height to the mouth's."""
    points = np.asarray(landmarks, np.float64)
    eye = float(np.linalg.norm(points[1] - points[0]))
    x0, x1 = points[2, 0] - eye / 4, points[2, 0] + eye / 4
    y0, y1 = (points[0, 1] + points[1, 1]) / 2, (points[3, 1] + points[4, 1]) / 2
    height, width = image.shape[:2]
    xs = slice(int(np.clip(x0, 0, width - 1)), int(np.clip(x1, 1, width)))
    ys = slice(int(np.clip(min(y0, y1), 0, height - 1)), int(np.clip(max(y0, y1), 1, height)))
    region = image[ys, xs].reshape(-1, 3).astype(np.float64)
    return float(np.median(region @ np.array(LUMA))) if len(region) else float("nan")


def unseen_people_photos(folder: str | Path, bank_limit: int, count: int, part: str) -> list[Path]:
    """``count`` photos of people outside the ``bank_limit`` face bank of ``folder`` (the rule of
    ``tools/make_facebank.py`` and ``finetune --photos``), one half of those people by a hash of their name:
    ``dev`` for deciding, ``report`` for the figures reported as held out from every decision."""
    if part not in ("dev", "report"):
        raise ValueError(f"part must be dev or report, not {part!r}")
    folder = Path(folder)
    photos = list_photos(folder)
    in_bank = {_identity(p.relative_to(folder).as_posix()) for p in evenly_spaced(photos, bank_limit)}

    def half(person: str) -> str:
        return "dev" if hashlib.sha256(person.encode()).digest()[0] % 2 == 0 else "report"

    unseen = [
        p
        for p in photos
        if (person := _identity(p.relative_to(folder).as_posix())) not in in_bank and half(person) == part
    ]
    return evenly_spaced(unseen, count)


def find_cases(
    paths: Sequence[Path], detector: Detector, min_score: float = 0.9, every_face: bool = False
) -> list[FaceCase]:
    """The faces to judge: per photo, its one confident face (a photo with none or several is left out), or
    with ``every_face`` each confident face of it (group photos)."""
    cases = []
    for path in paths:
        photo = read_image(path).rgb
        faces = [f for f in detector.detect(photo) if f.score >= min_score]
        if every_face:
            cases += [FaceCase(f"{path.name}#{i}", photo, face) for i, face in enumerate(faces)]
        elif len(faces) == 1:
            cases.append(FaceCase(path.name, photo, faces[0]))
    return cases


@dataclass(frozen=True)
class FaceResult:
    """What a drawing kept of one face."""

    found: bool
    nme: float | None
    mouth_nme: float | None
    tone: float
    landmarks: np.ndarray | None = field(default=None, compare=False)


def measure_face(case: FaceCase, drawing: np.ndarray, detected: list[DetectedFace]) -> FaceResult:
    """Compare the faces ``detected`` in ``drawing`` (the whole photo drawn) with ``case``'s face."""
    truth, eye = case.landmarks, case.eye_distance
    centre = truth.mean(axis=0)
    best, best_distance = None, 0.5 * eye
    for face in detected:
        distance = float(np.linalg.norm(np.asarray(face.landmarks).mean(axis=0) - centre))
        if distance <= best_distance:
            best, best_distance = face, distance
    tone = face_tone(drawing, truth)
    if best is None:
        return FaceResult(False, None, None, tone)
    error = np.linalg.norm(np.asarray(best.landmarks, np.float64) - truth, axis=1) / eye
    return FaceResult(True, float(error.mean()), float(error[list(MOUTH)].mean()), tone, np.asarray(best.landmarks))


def identity_matrix(case: FaceCase) -> np.ndarray:
    """The alignment of ``case``'s face to the FFHQ template at ``IDENTITY_CROP`` px (dlib's geometry)."""
    return estimate_alignment(case.landmarks, template_for(IDENTITY_CROP))


def rank1(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    """Whether each probe's nearest gallery descriptor is its own (probe i ↔ gallery i)."""
    distance = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)
    return distance.argmin(axis=1) == np.arange(len(probes))


def summarise(cases: Sequence[FaceCase], results: Sequence[FaceResult], correct: np.ndarray | None) -> dict:
    """The figures of one way of drawing: overall, and per stratum of the photos' faces."""

    def figures(indices: list[int]) -> dict:
        found = [i for i in indices if results[i].found]
        nme = [results[i].nme for i in found]
        mouth = [results[i].mouth_nme for i in found]
        row = {
            "faces": len(indices),
            "found": len(found) / len(indices) if indices else float("nan"),
            "nme": float(np.mean(nme)) if nme else float("nan"),
            "nme_median": float(np.median(nme)) if nme else float("nan"),
            "mouth_nme": float(np.mean(mouth)) if mouth else float("nan"),
        }
        if correct is not None:
            row["rank1"] = float(np.mean(correct[indices])) if indices else float("nan")
        return row

    everything = list(range(len(cases)))
    report = {"all": figures(everything)}
    photo_tone = np.array([c.tone for c in cases])
    drawn_tone = np.array([r.tone for r in results])
    usable = np.isfinite(photo_tone) & np.isfinite(drawn_tone)
    if usable.sum() >= 2:
        report["all"]["tone_slope"] = float(np.polyfit(photo_tone[usable], drawn_tone[usable], 1)[0])
    strata = [c.strata() for c in cases]
    for kind in ("yaw", "mouth", "skin"):
        labels = {s[kind] for s in strata}
        report[kind] = {label: figures([i for i, s in enumerate(strata) if s[kind] == label]) for label in labels}
    return report


def grey_photo(photo: np.ndarray) -> np.ndarray:
    """The photo in grey: the reference a drawing cannot beat on landmarks."""
    grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
    return np.repeat(grey[..., None], 3, axis=2)


def opencv_pencil(photo: np.ndarray) -> np.ndarray:
    """OpenCV's ``pencilSketch`` (one line, no model): the floor a learnt style must clear."""
    grey, _ = cv2.pencilSketch(cv2.cvtColor(photo, cv2.COLOR_RGB2BGR), sigma_s=60, sigma_r=0.07, shade_factor=0.05)
    return np.repeat(grey[..., None], 3, axis=2)


Renderer = Callable[[np.ndarray], np.ndarray]


def worst_faces_sheet(
    cases: Sequence[FaceCase], drawings: Sequence[np.ndarray], results: Sequence[FaceResult], count: int = 12
) -> np.ndarray:
    """The ``count`` faces with the largest NME (not found first): each photo's face beside its drawing,
    aligned alike, the photo's landmarks in green and the drawing's in red."""
    order = sorted(range(len(cases)), key=lambda i: (results[i].found, -(results[i].nme or 0.0)))[:count]
    tiles = []
    for i in order:
        matrix = estimate_alignment(cases[i].landmarks, template_for(160))
        pair = []
        for image in (cases[i].photo, drawings[i]):
            crop = cv2.warpAffine(image, matrix, (160, 160), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT_101)
            crop = np.ascontiguousarray(crop)
            for points, colour in ((cases[i].landmarks, (0, 200, 0)), (results[i].landmarks, (230, 0, 0))):
                if points is not None:
                    for x, y in np.c_[points, np.ones(5)] @ matrix.T:
                        cv2.circle(crop, (round(x), round(y)), 2, colour, -1)
            pair.append(crop)
        label = "not found" if not results[i].found else f"NME {results[i].nme:.3f}"
        tile = np.concatenate(pair, axis=1)
        cv2.putText(tile, label, (4, 154), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % 3:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[r : r + 3], axis=1) for r in range(0, len(tiles), 3)]
    return np.concatenate(rows, axis=0)
