"""Make a style from a few exemplars with the Python API, then use it at once.

    python examples/finetune_shots.py ./five_sketches mysketch examples/data/astronaut.jpg

The same as `gpdface finetune --shots ./five_sketches --name mysketch` followed by `gpdface translate`: a
256 px style from the embedded 64 px `lfw64` teacher and the pinned face bank of real faces (`--photos DIR`
for your own folder of face photos).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gpdface import Translator
from gpdface.recipe import FinetuneRecipe
from gpdface.train.finetune import FinetuneRequest, run_finetune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shots", type=Path, help="folder with 1–10 stylized face images")
    parser.add_argument("name", help="name of the new style")
    parser.add_argument("photo", type=Path, help="a photo to try the style on")
    parser.add_argument("--photos", type=Path, default=None, help="your own folder of real face photos")
    parser.add_argument("--steps", type=int, default=FinetuneRecipe.steps, help="distillation steps")
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()

    request = FinetuneRequest(
        name=args.name,
        shots_dir=args.shots,
        photos_dir=args.photos,
        recipe=FinetuneRecipe(steps=args.steps),
        resume=args.resume,
    )
    style_dir = run_finetune(request)
    result = Translator(style_dir)(args.photo)
    out = args.photo.with_name(f"{args.photo.stem}_{args.name}.png")
    result.save(out)
    print(f"style in {style_dir}; {len(result.faces)} face(s) translated into {out}")


if __name__ == "__main__":
    main()
