"""Face banks: real face photos, already aligned, in one archive pinned like weights.

A style made with a teacher learns from real photos through the teacher's drawings of them (GPD). A user
with five drawings has no such folder, so gpdface pins one (``facebanks`` in the manifest, resolved like
every weight file: ``GPDFACE_WEIGHTS_PATH``, the cache, then the Hub) and ``finetune`` uses it unless
``--photos`` names another folder.

The archive is a zip of stored (uncompressed) members with fixed dates, written in a fixed order:
``index.json`` (format, frame, selection rule, licence, and per face its source file and the five
landmarks it was aligned from, rounded to 1/100 px) and ``faces/NNNNN.jpg`` (the aligned crops, JPEG at a
fixed quality). Each crop is a pure function of its photo and its stored landmarks, so the same inputs
and pinned packages give the same bytes; the landmarks let anyone rebuild or audit a crop without
running the detector.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ...errors import WeightsError
from ...face.align import align_face, template_for
from ...face.detect import Detector
from ...imageio import atomic_write, read_image
from .faceset import evenly_spaced, list_photos, only_face, read_photo

FORMAT = 1
DEFAULT_FACEBANK = "lfw-2000"
CROP_SIZE = 256
JPEG_QUALITY = 95
LANDMARK_DECIMALS = 2
MIN_SCORE = 0.9
MAX_FACES = 100_000  # an index claiming more is not a face bank
_MEMBER = re.compile(r"faces/\d{5}\.jpg")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no build time in the bytes


@dataclass(frozen=True)
class FaceBank:
    """Aligned real faces and where each came from.

    Attributes:
        images: ``N S S 3`` uint8 crops aligned to the FFHQ template at ``S`` px.
        sources: each crop's photo, relative to the folder the bank was built from.
        landmarks: ``N 5 2`` the landmarks (photo pixels) each crop was aligned from.
        license: terms of the photos.
        description: what the bank holds, for logs and style cards.
    """

    images: np.ndarray
    sources: tuple[str, ...]
    landmarks: np.ndarray
    license: str
    description: str

    def __len__(self) -> int:
        return len(self.sources)


def build_facebank(
    folder: str | Path,
    detector: Detector,
    count: int,
    license: str,
    description: str,
    on_photo: Callable[[int, int], None] | None = None,
) -> tuple[FaceBank, list[tuple[str, str]]]:
    """Align ``count`` photos of ``folder`` (evenly spaced through its sorted list, the rule
    ``finetune --photos`` has always used, so the people left out stay the benchmarks' unseen people).

    A photo counts when the detector finds exactly one face with score ≥ ``MIN_SCORE``.

    Returns:
        The bank, and ``(photo, reason)`` for every photo left out.
    """
    folder = Path(folder)
    photos = evenly_spaced(list_photos(folder), count)
    template = template_for(CROP_SIZE)
    crops, sources, points, skipped = [], [], [], []
    for done, photo in enumerate(photos, 1):
        name, rgb, reason = read_photo(photo, folder)
        face, reason = only_face(detector, rgb, MIN_SCORE) if rgb is not None else (None, reason)
        if face is None:
            skipped.append((name, reason))
        else:
            landmarks = np.round(np.asarray(face.landmarks, np.float64), LANDMARK_DECIMALS)
            crops.append(align_face(rgb, landmarks, CROP_SIZE, template).crop)
            sources.append(name)
            points.append(landmarks)
        if on_photo is not None:
            on_photo(done, len(photos))
    images = np.stack(crops) if crops else np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    landmarks = np.stack(points) if points else np.zeros((0, 5, 2))
    return FaceBank(images, tuple(sources), landmarks, license, description), skipped


def write_facebank(path: str | Path, bank: FaceBank, selection: str) -> Path:
    """Write ``bank`` as one archive at ``path`` (atomically), byte for byte the same for the same bank."""
    index: dict[str, Any] = {
        "format": FORMAT,
        "crop_size": int(bank.images.shape[1]),
        "template": "FFHQ",
        "jpeg_quality": JPEG_QUALITY,
        "description": bank.description,
        "license": bank.license,
        "selection": selection,
        "faces": [
            {"file": _member(i), "source": source, "landmarks": np.asarray(points).round(LANDMARK_DECIMALS).tolist()}
            for i, (source, points) in enumerate(zip(bank.sources, bank.landmarks, strict=True))
        ],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        _add(archive, "index.json", (json.dumps(index, indent=1, sort_keys=True) + "\n").encode())
        for i, crop in enumerate(bank.images):
            encoded = io.BytesIO()
            Image.fromarray(crop).save(encoded, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False)
            _add(archive, _member(i), encoded.getvalue())
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(buffer.getvalue()))
    return path


def _member(index: int) -> str:
    return f"faces/{index:05d}.jpg"


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # Unix, whatever machine writes it
    archive.writestr(info, data)


def read_facebank(path: str | Path, crop_size: int | None = None) -> FaceBank:
    """Read a face-bank archive, optionally resized to ``crop_size`` (the FFHQ frame scales with the side).

    Only the members its index names are read, and only if named like ``faces/NNNNN.jpg``.

    Raises:
        WeightsError: not a face bank of this format, or a member missing or not a crop of the stated size.
    """
    path = Path(path)
    where = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            index = json.loads(archive.read("index.json").decode("utf-8"))
            faces = _checked_faces(index, where)
            size = index["crop_size"]
            crops = [_decode(archive.read(face["file"]), size, f"{where}:{face['file']}") for face in faces]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, RecursionError) as exc:
        raise WeightsError(f"{where} is not a readable face bank: {type(exc).__name__}: {str(exc)[:160]}") from None
    images = np.stack(crops) if crops else np.zeros((0, size, size, 3), np.uint8)
    if crop_size is not None and crop_size != size:
        import cv2

        interpolation = cv2.INTER_AREA if crop_size < size else cv2.INTER_LINEAR
        images = np.stack([cv2.resize(c, (crop_size, crop_size), interpolation=interpolation) for c in images])
    return FaceBank(
        images,
        tuple(str(face["source"]) for face in faces),
        np.asarray([face["landmarks"] for face in faces], np.float64).reshape(-1, 5, 2),
        str(index.get("license", "")),
        str(index.get("description", "")),
    )


def _checked_faces(index: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(index, dict) or index.get("format") != FORMAT:
        raise WeightsError(f"{where}: not a face bank of format {FORMAT}")
    size = index.get("crop_size")
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 1024:
        raise WeightsError(f"{where}: crop_size must be an integer in 16–1024")
    faces = index.get("faces")
    if not isinstance(faces, list) or not 0 < len(faces) <= MAX_FACES:
        raise WeightsError(f"{where}: the index must list 1–{MAX_FACES} faces")
    for face in faces:
        if not isinstance(face, dict) or not isinstance(face.get("file"), str) or not _MEMBER.fullmatch(face["file"]):
            raise WeightsError(f"{where}: every face needs a file named faces/NNNNN.jpg")
        if np.asarray(face.get("landmarks", []), dtype=object).shape != (5, 2):
            raise WeightsError(f"{where}: {face['file']} needs five [x, y] landmarks")
    return faces


def _decode(data: bytes, size: int, where: str) -> np.ndarray:
    rgb = read_image(Image.open(io.BytesIO(data)), max_pixels=size * size).rgb
    if rgb.shape != (size, size, 3):
        raise WeightsError(f"{where}: a {rgb.shape[1]}×{rgb.shape[0]} image, not a {size} px crop")
    return rgb


def load_facebank(name: str = DEFAULT_FACEBANK, crop_size: int | None = None) -> FaceBank:
    """The manifest's face bank ``name``: found (GPDFACE_WEIGHTS_PATH, the cache) or downloaded, checked
    against its pinned sha256, then read.

    Raises:
        WeightsError: unknown name, or the archive cannot be had or is not the pinned one.
    """
    from ...hub import fetch_entry
    from ...manifest import load_manifest

    entry = load_manifest().facebanks.get(name)
    if entry is None:
        known = ", ".join(load_manifest().facebanks) or "none"
        raise WeightsError(f"unknown face bank {name!r}; known: {known}")
    (path,) = fetch_entry(entry).values()
    return read_facebank(path, crop_size)
