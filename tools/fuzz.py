"""Fuzz gpdface's doors with damaged inputs: images, videos, style folders, demo uploads.

    python tools/fuzz.py --images 3000 --videos 40 --styles 30 --uploads 100 --out fuzz.json

Every case starts from a real input (the public-domain astronaut and Grace Hopper photos, a clip made of
them, a working style) and damages it: truncation, flipped bits and bytes, headers rewritten, odd pixel
modes and sizes, JSON values of the wrong type or size. Each case is run the way users run it — images
through ``Translator``, videos through ``translate_video``, style folders through ``load_style`` then a
translation, uploads through the demo's own ``translate_photo`` — and counted:

- ``crashes``: anything but a gpdface error (``GpdfaceError``: one line, an exit code) escaped;
- ``hangs``: a case took longer than ``--hang`` seconds (a guard against endless loops, not a speed check);
- ``modified``: an input file's bytes changed (gpdface must never write to its inputs).

Seeded (``--seed``): the same cases every run. The test suite runs a few of each kind (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import struct
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from gpdface.errors import GpdfaceError

FORMATS = ("JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP")
MODES = ("RGB", "L", "RGBA", "P", "CMYK", "I;16", "1", "LA")


@dataclass
class Tally:
    """What one kind of case came to."""

    cases: int = 0
    errors: int = 0  # gpdface errors: refused in one line, as it should be
    crashes: int = 0
    hangs: int = 0
    modified: int = 0
    examples: list[str] = field(default_factory=list)  # the first few crashes, hangs and modifications

    def run(self, name: str, path: Path | None, action: Callable[[], object], hang: float) -> None:
        before = path.read_bytes() if path is not None and path.is_file() else None
        started = time.perf_counter()
        self.cases += 1
        try:
            action()
        except GpdfaceError:
            self.errors += 1
        except Exception as exc:  # what this script is looking for
            self.crashes += 1
            where = traceback.extract_tb(exc.__traceback__)[-1]  # the line that raised, to find it again
            self._note(f"crash {name}: {type(exc).__name__}: {str(exc)[:120]} ({where.filename}:{where.lineno})")
        if time.perf_counter() - started > hang:
            self.hangs += 1
            self._note(f"hang {name}: {time.perf_counter() - started:.0f} s")
        if before is not None and (not path.is_file() or path.read_bytes() != before):
            self.modified += 1
            self._note(f"modified {name}")

    def _note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)


def encode(image: np.ndarray, fmt: str, mode: str = "RGB") -> bytes:
    picture = Image.fromarray(image)
    if mode != "RGB":
        try:
            picture = picture.convert(mode)
        except ValueError:
            picture = picture.convert("L")
    buffer = io.BytesIO()
    try:
        picture.save(buffer, fmt)
    except (OSError, ValueError, KeyError):
        buffer = io.BytesIO()
        picture.convert("RGB").save(buffer, fmt)
    return buffer.getvalue()


def damaged(data: bytes, rng: random.Random) -> bytes:
    """One random kind of damage to a file's bytes."""
    kind = rng.choice(("truncate", "bits", "bytes", "header", "splice", "zero", "repeat"))
    body = bytearray(data)
    if kind == "truncate":
        return bytes(body[: rng.randrange(0, max(1, len(body)))])
    if kind == "bits":
        for _ in range(rng.randint(1, 64)):
            index = rng.randrange(len(body))
            body[index] ^= 1 << rng.randrange(8)
    elif kind == "bytes":
        for _ in range(rng.randint(1, 32)):
            body[rng.randrange(len(body))] = rng.randrange(256)
    elif kind == "header":  # sizes and counts live near the start of every format
        for _ in range(rng.randint(1, 8)):
            index = rng.randrange(min(64, len(body)))
            body[index : index + 4] = struct.pack("<I", rng.choice((0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF)))
    elif kind == "splice":
        start = rng.randrange(len(body))
        body[start:start] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    elif kind == "zero":
        start = rng.randrange(len(body))
        body[start : start + rng.randint(1, 4096)] = bytes(min(4096, len(body) - start))
    else:
        start = rng.randrange(len(body))
        body += body[start : start + rng.randint(1, 8192)]
    return bytes(body)


def image_cases(photos: list[np.ndarray], count: int, rng: random.Random) -> Iterator[tuple[str, bytes, str]]:
    """(name, bytes, suffix): real photos in every format and mode, then damaged."""
    for index in range(count):
        photo = photos[index % len(photos)]
        if rng.random() < 0.2:  # odd shapes: 1 px wide, tiny, very long
            height, width = rng.choice(((1, 64), (64, 1), (2, 2), (8, 4000)))
            photo = np.resize(photo, (height, width, 3))
        fmt = rng.choice(FORMATS)
        data = encode(photo, fmt, rng.choice(MODES))
        if rng.random() < 0.85:
            data = damaged(data, rng)
        yield f"image{index:05d}.{fmt.lower()}", data, "." + {"JPEG": "jpg"}.get(fmt, fmt.lower())


def style_cases(source: Path, count: int, rng: random.Random) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(name, {file: bytes}): a working style's files with one of them damaged or rewritten."""
    files = {p.name: p.read_bytes() for p in source.iterdir() if p.is_file()}
    hostile = [
        [], None, "x", 1e308, float("nan"), -1, 2**63, {"a": 1}, [1024] * 8, list(range(100_000)),
        "../../etc", "/abs", "a\x00b", "\ufeff", True,
    ]  # fmt: skip
    for index in range(count):
        changed = dict(files)
        name = rng.choice(("style.json", "config.json", "model.safetensors"))
        if name.endswith(".json") and rng.random() < 0.7:
            document = json.loads(files[name])
            key = rng.choice([*document, "name", "model", "channels", "background", "template", "tone_layer"])
            document[key] = rng.choice(hostile)
            changed[name] = json.dumps(document, allow_nan=True).encode()
        else:
            changed[name] = damaged(files[name], rng)
        yield f"style{index:04d}:{name}", changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--videos", type=int, default=10)
    parser.add_argument("--styles", type=int, default=30)
    parser.add_argument("--uploads", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hang", type=float, default=120.0, help="seconds after which a case counts as a hang")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    report = fuzz(args.images, args.videos, args.styles, args.uploads, args.seed, args.hang)
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    if any(t["crashes"] or t["hangs"] or t["modified"] for t in report["kinds"].values()):
        sys.exit(1)


def fuzz(images: int, videos: int, styles: int, uploads: int, seed: int, hang: float) -> dict:
    """Run the cases; return the tallies per kind (``images``, ``videos``, ``styles``, ``uploads``)."""
    from skimage import data as samples

    from gpdface import Translator
    from gpdface.demo import Translators, translate_photo
    from gpdface.style import load_style

    rng = random.Random(seed)
    photos = [samples.astronaut(), np.asarray(Image.open(_hopper()).convert("RGB"))]
    translator = Translator("sketch", device="cpu")
    tallies = {kind: Tally() for kind in ("images", "videos", "styles", "uploads")}
    with tempfile.TemporaryDirectory(prefix="gpdface-fuzz-") as scratch:
        work = Path(scratch)
        for name, data, suffix in image_cases(photos, images, rng):
            path = work / f"{name}{suffix}"
            path.write_bytes(data)
            tallies["images"].run(name, path, lambda p=path: translator(p), hang)
            path.unlink()
        demo = Translators("cpu")
        for name, data, suffix in image_cases(photos, uploads, rng):
            path = work / f"upload_{name}{suffix}"
            path.write_bytes(data)
            output = rng.choice(("paste", "crop"))
            tallies["uploads"].run(
                name, path, lambda p=path, o=output: translate_photo(demo, str(p), "sketch", o), hang
            )
            path.unlink()
        clip = _clip(work, photos[0])
        for index in range(videos):
            path = work / f"video{index:03d}{rng.choice(('.mp4', '.mkv'))}"
            path.write_bytes(damaged(clip.read_bytes(), rng))
            target = work / f"out{index:03d}.mp4"
            tallies["videos"].run(path.name, path, lambda p=path, t=target: translator.translate_video(p, t), hang)
            path.unlink()
            target.unlink(missing_ok=True)
        source = load_style("sketch").path
        for name, files in style_cases(source, styles, rng):
            folder = work / name.replace(":", "_")
            folder.mkdir()
            for file, body in files.items():
                (folder / file).write_bytes(body)
            victim = folder / name.split(":")[1]
            tallies["styles"].run(name, victim, lambda f=folder: Translator(f, device="cpu")(photos[0]), hang)
    return {"seed": seed, "hang_seconds": hang, "kinds": {k: vars(t) for k, t in tallies.items()}}


def _hopper() -> io.BytesIO:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return io.BytesIO(f.read())


def _clip(folder: Path, photo: np.ndarray) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from clips import write_clip

    path = folder / "clip.mp4"
    write_clip(path, photo, frames=8)
    return path


if __name__ == "__main__":
    main()
