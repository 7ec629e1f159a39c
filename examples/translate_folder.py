"""Translate every photo in a folder, many faces per forward pass; bad files are reported and skipped.

python examples/translate_folder.py ./photos ./photos_sketch --style sketch --batch-size 16
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gpdface import GpdfaceError, Translator
from gpdface.formats import IMAGE_SUFFIXES as SUFFIXES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--style", default="sketch")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    photos = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in SUFFIXES)
    translator = Translator(args.style, batch_size=args.batch_size)
    failed = 0
    for photo, result in translator.translate_many(photos):
        if isinstance(result, GpdfaceError):
            failed += 1
            print(f"skipped {photo}: {result}")
            continue
        result.save(args.out / photo.name)
        print(f"{photo.name}: {len(result.faces)} face(s)")
    print(f"done: {len(photos) - failed} translated, {failed} skipped")


if __name__ == "__main__":
    main()
