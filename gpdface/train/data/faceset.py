"""A folder of real face photos, aligned once into a cache, for pretraining a teacher.

Every photo goes through the project's own face pipeline (RetinaFace, 5 landmarks, similarity to the
template) so the teacher's frame is the frame the student later sees. Photos without exactly one confident
face are skipped and listed with the reason. The cache is written in chunks, each atomically, so an
interrupted run resumes with the first missing chunk.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import InputError, UsageError
from ...face.align import align_face
from ...face.detect import DetectedFace, Detector
from ...formats import IMAGE_SUFFIXES
from ...imageio import atomic_write, read_image, write_image

CHUNK_SIZE = 256


@dataclass
class FaceSet:
    """Aligned faces and where they came from.

    Attributes:
        names: photo paths relative to the collection folder (``person/photo.jpg`` for LFW).
        images: ``N R R 3`` uint8 aligned crops.
        skipped: ``(name, reason)`` for every photo left out.
    """

    names: list[str]
    images: np.ndarray
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.names)

    def subset(self, mask: np.ndarray) -> FaceSet:
        return FaceSet([n for n, keep in zip(self.names, mask, strict=True) if keep], self.images[mask], [])


def list_photos(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively), in a stable order.

    Raises:
        InputError: the folder does not exist or holds no images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder of face photos")
    photos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not photos:
        raise InputError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    return photos


def align_collection(
    folder: str | Path,
    cache_dir: str | Path,
    detector: Detector,
    resolution: int,
    template: np.ndarray,
    min_score: float = 0.9,
    on_photo: Callable[[int, int], None] | None = None,
    limit: int | None = None,
) -> FaceSet:
    """Align every photo under ``folder`` to ``template`` at ``resolution``, reusing finished cache chunks.

    Args:
        folder: the face collection.
        cache_dir: where the chunks go; a cache made with other settings is refused, not mixed in.
        detector: face detector.
        resolution: side of the aligned crops.
        template: ``5 2`` landmark positions at ``resolution``.
        min_score: a face counts when its detection score is at least this.
        on_photo: called with (photos done, total) as the work advances.
        limit: take at most this many photos, evenly spaced through the sorted list (so that a folder sorted
            by name still gives many people).
    """
    folder, cache_dir = Path(folder), Path(cache_dir)
    photos = evenly_spaced(list_photos(folder), limit)
    settings = {
        "resolution": resolution,
        "template": np.round(np.asarray(template, np.float64), 4).tolist(),
        "min_score": min_score,
        "photos": len(photos),
    }
    _claim_cache(cache_dir, settings)
    names, crops, skipped = [], [], []
    for index, start in enumerate(range(0, len(photos), CHUNK_SIZE)):
        chunk_path = cache_dir / f"chunk_{index:05d}.npz"
        if not chunk_path.is_file():
            chunk = photos[start : start + CHUNK_SIZE]
            _write_chunk(chunk_path, [_align_one(p, folder, detector, resolution, template, min_score) for p in chunk])
        with np.load(chunk_path) as stored:
            names += stored["names"].tolist()
            crops.append(stored["crops"])
            skipped += list(zip(stored["skipped"].tolist(), stored["reasons"].tolist(), strict=True))
        if on_photo is not None:
            on_photo(min(start + CHUNK_SIZE, len(photos)), len(photos))
    images = np.concatenate(crops) if crops else np.zeros((0, resolution, resolution, 3), np.uint8)
    atomic_write(cache_dir / "skipped.tsv", lambda f: f.write("".join(f"{n}\t{r}\n" for n, r in skipped).encode()))
    return FaceSet(names, images, skipped)


def load_aligned(folder: str | Path, resolution: int, on_photo: Callable[[int, int], None] | None = None) -> FaceSet:
    """Faces already aligned to the FFHQ frame at ``resolution`` (FFHQ-style thumbnails, or crops written by
    ``write_aligned``): every photo under ``folder`` that is ``resolution`` px square; others are skipped."""
    folder = Path(folder)
    photos = list_photos(folder)
    names, crops, skipped = [], [], []
    for index, photo in enumerate(photos, 1):
        name, rgb, reason = read_photo(photo, folder)
        if rgb is None:
            skipped.append((name, reason))
        elif rgb.shape[:2] != (resolution, resolution):
            skipped.append((name, f"{rgb.shape[1]}×{rgb.shape[0]} px, not {resolution}×{resolution}"))
        else:
            names.append(name)
            crops.append(rgb)
        if on_photo is not None:
            on_photo(index, len(photos))
    images = np.stack(crops) if crops else np.zeros((0, resolution, resolution, 3), np.uint8)
    return FaceSet(names, images, skipped)


def write_aligned(faces: FaceSet, folder: str | Path, quality: int = 90) -> list[Path]:
    """Write aligned crops as JPEGs under their names (``person/photo.jpg`` stays ``person/photo.jpg``), so
    ``load_aligned`` reads them back with the same people: a compact copy of an alignment cache to carry."""
    folder = Path(folder)
    written = []
    for name, crop in zip(faces.names, faces.images, strict=True):
        path = (folder / name).with_suffix(".jpg")
        path.parent.mkdir(parents=True, exist_ok=True)
        written.append(write_image(path, crop, quality=quality))
    return written


def evenly_spaced(photos: list[Path], count: int | None) -> list[Path]:
    """At most ``count`` of ``photos``, evenly spaced through the list (all of them when ``count`` is None)."""
    if count is None or len(photos) <= count:
        return photos
    return [photos[i] for i in np.linspace(0, len(photos) - 1, count).round().astype(int)]


def align_unseen_people(
    folder: str | Path,
    bank_limit: int,
    count: int,
    detector: Detector,
    resolution: int,
    template: np.ndarray,
    min_score: float = 0.9,
) -> FaceSet:
    """Aligned faces of up to ``count`` photos from ``folder`` of people who are not in the face bank that
    ``align_collection(folder, ..., limit=bank_limit)`` makes: held-out faces for judging a style made with
    that bank (``finetune --photos folder``). Not cached; photos without one confident face are skipped."""
    folder = Path(folder)
    photos = list_photos(folder)
    in_bank = {_identity(p.relative_to(folder).as_posix()) for p in evenly_spaced(photos, bank_limit)}
    unseen = [p for p in photos if _identity(p.relative_to(folder).as_posix()) not in in_bank]
    if not unseen:
        raise InputError(f"{folder}: every person is in the {bank_limit}-photo face bank; no unseen faces")
    results = [_align_one(p, folder, detector, resolution, template, min_score) for p in evenly_spaced(unseen, count)]
    kept = [(name, crop) for name, crop, _ in results if crop is not None]
    images = np.stack([c for _, c in kept]) if kept else np.zeros((0, resolution, resolution, 3), np.uint8)
    return FaceSet([n for n, _ in kept], images, [(n, r) for n, c, r in results if c is None])


def _claim_cache(cache_dir: Path, settings: dict) -> None:
    record = cache_dir / "settings.json"
    if record.is_file():
        if json.loads(record.read_text()) != settings:
            raise UsageError(
                f"{cache_dir} holds faces aligned with other settings or photos; use another --work folder"
            )
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    atomic_write(record, lambda f: f.write(json.dumps(settings, indent=2).encode()))


def read_photo(photo: Path, folder: Path) -> tuple[str, np.ndarray | None, str]:
    """(name relative to ``folder``, RGB or None, why it could not be read)."""
    name = photo.relative_to(folder).as_posix()
    try:
        return name, read_image(photo).rgb, ""
    except InputError as error:
        return name, None, f"unreadable: {error}"


def only_face(detector: Detector, rgb: np.ndarray, min_score: float) -> tuple[DetectedFace | None, str]:
    """The one face of score ≥ ``min_score`` in ``rgb``, or None and why (none, or several)."""
    faces = [face for face in detector.detect(rgb) if face.score >= min_score]
    if len(faces) != 1:
        return None, f"{len(faces)} faces with score >= {min_score}"
    return faces[0], ""


def _align_one(photo: Path, folder: Path, detector: Detector, resolution: int, template, min_score: float):
    """(name, crop or None, reason when skipped)."""
    name, rgb, reason = read_photo(photo, folder)
    if rgb is None:
        return name, None, reason
    face, reason = only_face(detector, rgb, min_score)
    if face is None:
        return name, None, reason
    return name, align_face(rgb, face.landmarks, resolution, template).crop, ""


def _write_chunk(path: Path, results: list) -> None:
    kept = [(n, c) for n, c, _ in results if c is not None]
    left = [(n, r) for n, c, r in results if c is None]
    size = kept[0][1].shape[0] if kept else 0
    buffer = io.BytesIO()
    np.savez(
        buffer,
        names=np.array([n for n, _ in kept], dtype=str),
        crops=np.stack([c for _, c in kept]) if kept else np.zeros((0, size, size, 3), np.uint8),
        skipped=np.array([n for n, _ in left], dtype=str),
        reasons=np.array([r for _, r in left], dtype=str),
    )
    atomic_write(path, lambda f: f.write(buffer.getvalue()))


def identity_holdout(names: list[str], count: int) -> np.ndarray:
    """A mask of about ``count`` photos to hold out, whole identities at a time (the photo's folder).

    Identities are taken in the order of a hash of their name, so the split is stable and needs no seed,
    and no person is on both sides, so the memorisation check compares against unseen people. For a flat
    folder the person is the file name without its counter (LFW's ``Person_Name_0001.jpg``).
    """
    people = sorted({_identity(n) for n in names}, key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    photos_of: dict[str, int] = {}
    for n in names:
        photos_of[_identity(n)] = photos_of.get(_identity(n), 0) + 1
    most = count // 10 if count >= 50 else len(names)  # no single person dominates a real held-out set
    held, total = set(), 0
    for person in people:
        if total >= count:
            break
        if photos_of[person] <= most:
            held.add(person)
            total += photos_of[person]
    return np.array([_identity(n) in held for n in names], dtype=bool)


def _identity(name: str) -> str:
    """The person: the photo's folder, or for a flat folder the file name without its ``_0001`` counter."""
    if "/" in name:
        return name.rsplit("/", 1)[0]
    stem = name.rsplit(".", 1)[0]
    head, _, tail = stem.rpartition("_")
    return head if head and tail.isdigit() else stem
