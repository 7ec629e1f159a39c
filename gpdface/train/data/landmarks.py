"""Five landmarks given by hand for exemplars the face detector cannot find (drawings, avatars, cartoons).

``gpdface finetune --shots DIR --landmarks FILE`` reads FILE as
- JSON: ``{"name.png": [[x, y], [x, y], [x, y], [x, y], [x, y]], ...}``, or
- CSV: one row per image, ``name,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5`` (a header row is allowed),
with the points in the image's pixels, in the detector's order: the eye on the image's left, the other eye,
the nose tip, the mouth corner on the image's left, the other mouth corner. An entry is matched to an
exemplar by file name, or by name without the suffix. Given points take precedence over detection.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ...errors import InputError
from ...names import shortened

POINTS = 5


def read_landmarks(path: str | Path) -> dict[str, np.ndarray]:
    """``{name: 5 2 array}`` from a JSON or CSV landmarks file.

    Raises:
        InputError: the file cannot be read or an entry is not five finite points in the documented order
            (the file and the entry are named).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read the landmarks ({error.__class__.__name__})") from None
    entries = _json_entries(path, text) if path.suffix.lower() == ".json" else _csv_entries(path, text)
    if not entries:
        raise InputError(f"{path}: no landmarks in the file")
    return {name: _points(path, name, values) for name, values in entries.items()}


def landmarks_for(images: Sequence[Path], given: dict[str, np.ndarray], source: str | Path) -> dict[Path, np.ndarray]:
    """The given landmarks of each image that has some, matched by file name, then by stem.

    Raises:
        InputError: an entry names no image among ``images`` (a typo would otherwise go unnoticed).
    """
    by_key = {**{p.stem: p for p in images}, **{p.name: p for p in images}}
    unknown = sorted(name for name in given if name not in by_key)
    if unknown:
        known = ", ".join(p.name for p in images)
        raise InputError(f"{source} names image(s) that are not among the exemplars: "
                         f"{shortened(', '.join(unknown))}; the exemplars are {shortened(known)}")  # fmt: skip
    return {by_key[name]: points for name, points in given.items()}


def check_inside(points: np.ndarray, width: int, height: int, name: str) -> None:
    """Raises InputError when a point lies outside the image it is meant for."""
    inside = (points[:, 0] >= 0) & (points[:, 0] <= width) & (points[:, 1] >= 0) & (points[:, 1] <= height)
    if not inside.all():
        raise InputError(f"the landmarks of {name} lie outside its {width}×{height} pixels")


def _json_entries(path: Path, text: str) -> dict[str, object]:
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as error:
        raise InputError(f"{path}: not valid JSON ({error.__class__.__name__})") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected an object {{image name: five [x, y] points}}")
    return document


def _csv_entries(path: Path, text: str) -> dict[str, object]:
    entries: dict[str, object] = {}
    rows = csv.reader(text.splitlines())
    number = 0
    while True:
        number += 1
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as error:  # e.g. a field over csv's size limit: not a landmarks file
            raise InputError(f"{path}, row {number}: not a CSV row of a name and numbers ({error})") from None
        row = [cell.strip() for cell in row]
        if not row or not any(row):
            continue
        if number == 1 and not _is_number(row[1] if len(row) > 1 else ""):
            continue  # a header
        if len(row) != 1 + 2 * POINTS:
            raise InputError(f"{path}, row {number}: expected name and {2 * POINTS} coordinates, got {len(row)} fields")
        values = [float(v) if _is_number(v) else v for v in row[1:]]
        entries[row[0]] = [values[i : i + 2] for i in range(0, 2 * POINTS, 2)]
    return entries


def _points(path: Path, name: str, values: object) -> np.ndarray:
    where = f"{path}, entry {name!r}"
    try:
        points = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: expected {POINTS} [x, y] points of numbers") from None
    if points.shape != (POINTS, 2):
        raise InputError(f"{where}: expected {POINTS} [x, y] points, got an array of shape {points.shape}")
    if not np.isfinite(points).all():
        raise InputError(f"{where}: the points must be finite numbers")
    left_eye, right_eye, _, left_mouth, right_mouth = points
    if math.dist(left_eye, right_eye) < 2:
        raise InputError(f"{where}: the two eyes are at the same place")
    if left_eye[0] > right_eye[0] or left_mouth[0] > right_mouth[0]:
        raise InputError(f"{where}: give the eye and the mouth corner on the image's left first")
    return points


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
