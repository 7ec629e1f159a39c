"""gpdface for batch engines: encoded images in, encoded drawings and one record per image out.

    from gpdface.batch import TranslateBatch

    translate = TranslateBatch("sketch")                       # the style loads once, here
    out = translate({"bytes": [data, ...], "path": ["a/b.jpg", ...]})
    out["image"][0]  # the drawing, encoded as its input's format; None where the image failed
    out["error"][0]  # None, or the one-line error

The shape is what Ray Data's ``map_batches`` gives a callable class (a dict of equal-length columns), so
each worker builds one ``TranslateBatch`` and keeps it; nothing here imports Ray. Images are read by the
project's own reader (EXIF orientation, any mode, the pixel limit) and go through ``Translator`` exactly as
``gpdface translate`` runs it — the same preparation, batching across images, composing and encoder
settings — so a drawing is byte-identical to the command's file. A bad image never raises: its record
carries the error.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from .errors import GpdfaceError
from .imageio import encode_image
from .options import TranslateOptions

STAGES = ("read", "prepare", "stylize", "compose", "encode")
RECORD_COLUMNS = ("path", "image", "error", "faces", "boxes", "scores", *(f"seconds_{s}" for s in STAGES))


class TranslateBatch:
    """A callable that translates batches of encoded images with one style, loaded once.

    Args:
        style: a style name or folder.
        options: how faces are found and drawn (``TranslateOptions``); its ``output`` must be ``paste`` (a
            batch engine writes one file per image).
    """

    def __init__(self, style: str = "sketch", options: TranslateOptions | None = None) -> None:
        from .translator import Translator

        options = options or TranslateOptions()
        self.translator = Translator.from_options(style, options)
        self.translator.output = "paste"
        self.translator.detector  # noqa: B018 — weights resolved once per worker, not per batch

    def __call__(self, batch: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
        """``{"bytes": [...], "path": [...]}`` → the columns of ``RECORD_COLUMNS``, in the same order. The
        ``seconds_*`` columns are each stage's time for the whole batch shared out per image (faces of
        several images go through the student together)."""
        from PIL import Image

        paths = [str(p) for p in batch["path"]]
        seconds: dict[str, float] = {}
        began = time.perf_counter()
        images: list[Any] = []
        failures: dict[int, str] = {}
        for index, data in enumerate(batch["bytes"]):
            try:
                images.append(Image.open(io.BytesIO(bytes(data))))
            except Exception as exc:  # Pillow raises several types for bytes that are no image
                failures[index] = f"{paths[index]}: not an image file that Pillow can read ({type(exc).__name__})"
                images.append(None)
        seconds["read"] = time.perf_counter() - began
        readable = [(i, image) for i, image in enumerate(images) if image is not None]
        outcomes = self.translator.translate_many([image for _, image in readable], seconds=seconds)
        results = dict(zip([i for i, _ in readable], [result for _, result in outcomes], strict=True))
        began = time.perf_counter()
        rows = [self._record(path, results.get(index, failures.get(index))) for index, path in enumerate(paths)]
        seconds["encode"] = time.perf_counter() - began
        columns: dict[str, list[Any]] = {name: [] for name in RECORD_COLUMNS}
        for row in rows:
            for stage in STAGES:
                row[f"seconds_{stage}"] = seconds.get(stage, 0.0) / max(1, len(paths))
            for name in RECORD_COLUMNS:
                columns[name].append(row[name])
        return columns

    @staticmethod
    def _record(path: str, outcome: Any) -> dict[str, Any]:
        row: dict[str, Any] = {"path": path, "image": None, "error": None, "faces": 0, "boxes": "[]", "scores": "[]"}
        if isinstance(outcome, (GpdfaceError, str)):
            row["error"] = outcome if isinstance(outcome, str) else f"{path}: {outcome.for_command_line()}"
            return row
        try:
            row["image"] = encode_image(outcome.image, PurePosixPath(path).suffix or ".png", outcome.alpha)
        except GpdfaceError as exc:
            row["error"] = f"{path}: {exc}"
            return row
        row["faces"] = len(outcome.faces)
        row["boxes"] = json.dumps([[round(v, 2) for v in face.box] for face in outcome.faces])
        row["scores"] = json.dumps([round(face.score, 4) for face in outcome.faces])
        return row
