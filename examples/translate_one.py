"""Translate the faces of one photo with the Python API.

python examples/translate_one.py examples/data/astronaut.jpg out.jpg --style sketch
"""

from __future__ import annotations

import argparse

from gpdface import Translator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo")
    parser.add_argument("output")
    parser.add_argument("--style", default="sketch")
    parser.add_argument("--output-mode", default=None, choices=["paste", "crop", "both"])
    args = parser.parse_args()

    translator = Translator(args.style, output=args.output_mode)
    result = translator(args.photo)
    for i, face in enumerate(result.faces):
        print(f"face {i}: box {[round(v) for v in face.box]}, score {face.score:.3f}")
    for path in result.save(args.output):
        print("wrote", path)


if __name__ == "__main__":
    main()
