"""The identity figure: does a stylized face still look like its person? Sketch → photo recognition rank-1
with dlib's ResNet face descriptor.

For each pair, the descriptor of the sketch (the artist's, or a student's pasted into the photo frame) is
compared with the descriptors of every photo of the set; rank-1 is the share of sketches whose nearest
photo is their own. A style that draws one face for everyone falls far below the artists' own sketches.

Every image of a pair is described with the *photo's* geometry: the face box is the alignment's (where
dlib's own HOG detector puts it in the aligned frame, mapped back to the photo) and the 5 dlib landmarks
are found on the photo. So a sketch is judged on what it draws, not on whether a landmark model trained on
photos can read sketches.

dlib (``dlib-bin``) and its model files (``face-recognition-models``, CC0 weights) are a dev/benchmark
extra, never a runtime dependency. That package imports ``pkg_resources`` when imported, so its files are
located without importing it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import GpdfaceError
from ..data.pairs import AlignedPairs

# dlib's HOG face box in a 256 px FFHQ-aligned crop (mean over 90 CUFS photos), as shares of the side.
FACE_BOX = (57.3 / 256, 79.7 / 256, 198.5 / 256, 226.1 / 256)
MODEL_FILES = {
    "shape": "shape_predictor_5_face_landmarks.dat",
    "descriptor": "dlib_face_recognition_resnet_model_v1.dat",
}


class IdentityUnavailable(GpdfaceError, ImportError):
    """dlib or its model files are not installed (``pip install -e ".[dev]"``)."""


def model_files() -> dict[str, Path]:
    """The dlib model files shipped by ``face-recognition-models``, found without importing it.

    Raises:
        IdentityUnavailable: the package or a file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise IdentityUnavailable("the identity figure needs face-recognition-models and dlib-bin (the dev extra)")
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    files = {key: folder / name for key, name in MODEL_FILES.items()}
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise IdentityUnavailable(f"face-recognition-models is incomplete: {', '.join(missing)} missing")
    return files


@dataclass(frozen=True)
class IdentityReport:
    """Rank-1 of sketches against the photos of their set.

    Attributes:
        rank1: share of sketches whose nearest photo is their own.
        correct: how many.
        count: sketches scored.
        own_distance: mean descriptor distance of a sketch to its own photo.
        other_distance: mean distance to the other photos.
    """

    rank1: float
    correct: int
    count: int
    own_distance: float
    other_distance: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "rank1": self.rank1,
            "correct": self.correct,
            "count": self.count,
            "own_distance": self.own_distance,
            "other_distance": self.other_distance,
        }


class IdentityScorer:
    """dlib's 5-point shape predictor and ResNet descriptor, loaded once.

    Raises:
        IdentityUnavailable: dlib or the model files are missing.
    """

    def __init__(self) -> None:
        files = model_files()
        try:
            import dlib
        except ImportError as exc:
            raise IdentityUnavailable(f"the identity figure needs dlib-bin (the dev extra): {exc}") from None
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(files["shape"]))
        self._net = dlib.face_recognition_model_v1(str(files["descriptor"]))

    def _shape_of(self, photo: np.ndarray, matrix: np.ndarray, crop_size: int):
        corners = np.array([[FACE_BOX[0], FACE_BOX[1]], [FACE_BOX[2], FACE_BOX[1]], [FACE_BOX[0], FACE_BOX[3]],
                            [FACE_BOX[2], FACE_BOX[3]]]) * crop_size  # fmt: skip
        inverse = np.linalg.inv(np.r_[matrix, [[0, 0, 1]]])[:2]
        in_photo = np.c_[corners, np.ones(4)] @ inverse.T
        left, top = np.floor(in_photo.min(axis=0)).astype(int)
        right, bottom = np.ceil(in_photo.max(axis=0)).astype(int)
        box = self._dlib.rectangle(int(left), int(top), int(right), int(bottom))
        return self._shape(np.ascontiguousarray(photo), box)

    def descriptor(self, image: np.ndarray, photo: np.ndarray, matrix: np.ndarray, crop_size: int) -> np.ndarray:
        """The 128-d descriptor of ``image`` (a photo, or a drawing in the photo's frame) with the geometry of
        ``photo``'s face, whose alignment to a ``crop_size`` FFHQ crop is ``matrix``."""
        shape = self._shape_of(photo, matrix, crop_size)
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(image), shape))

    def descriptors(self, pairs: AlignedPairs, images: list[np.ndarray] | None = None) -> np.ndarray:
        """``N 128`` descriptors of ``images`` (default: the photos), each with its pair photo's geometry."""
        images = pairs.sources if images is None else images
        return np.stack(
            [
                self.descriptor(image, photo, matrix, pairs.crop_size)
                for photo, image, matrix in zip(pairs.sources, images, pairs.matrices, strict=True)
            ]
        )

    def rank1(
        self, pairs: AlignedPairs, sketches: list[np.ndarray], gallery: np.ndarray | None = None
    ) -> IdentityReport:
        """Rank-1 of ``sketches`` (one per pair, in the photo frame) against the pairs' photos.

        Args:
            pairs: the pairs (their photos are the gallery, their geometry is used for every image).
            sketches: what is scored: the artists' sketches (``pairs.targets``) or a student's.
            gallery: the photos' descriptors when already computed.
        """
        gallery = self.descriptors(pairs) if gallery is None else gallery
        probes = self.descriptors(pairs, sketches)
        distance = np.linalg.norm(probes[:, None, :] - gallery[None, :, :], axis=2)  # sketch × photo
        own = np.diag(distance)
        correct = int((distance.argmin(axis=1) == np.arange(len(probes))).sum())
        others = distance[~np.eye(len(probes), dtype=bool)]
        return IdentityReport(
            correct / len(probes), correct, len(probes), float(own.mean()), float(others.mean()) if others.size else 0.0
        )


def optional_identity_scorer() -> tuple[IdentityScorer | None, str]:
    """For benchmarks, where identity is one figure among others: (the scorer, "") when dlib and its model
    files are installed, else (None, why not) so that the report can say it."""
    try:
        return IdentityScorer(), ""
    except IdentityUnavailable as exc:
        return None, str(exc)
