"""Write a catalogue style's card: its exemplars as a strip, before/after pictures, the command, the time, the
licence chain and the copying/identity figures of ``benchmarks/catalogue.py``.

    python tools/style_card.py STYLE --exemplars examples/exemplars/lorelei --photo astronaut.jpg \
        --photo hopper.jpg --time "13 min 11 s on 2 CPU cores (face bank and encoder cached)" \
        --figures catalogue.json --out docs/styles

Writes ``OUT/<name>.md``, ``OUT/<name>_exemplars.jpg`` and ``OUT/<name>_before_after.jpg``. Use only
public-domain photos (the README's rule for published pictures).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from gpdface import Translator
from gpdface.imageio import read_image
from gpdface.train.data.pairs import find_shots

HEIGHT = 200


def _fit(image: np.ndarray, height: int = HEIGHT) -> Image.Image:
    picture = Image.fromarray(image)
    return picture.resize((round(picture.width * height / picture.height), height), Image.LANCZOS)


def _row(images: list[Image.Image], gap: int = 6) -> Image.Image:
    width = sum(im.width for im in images) + gap * (len(images) - 1)
    row = Image.new("RGB", (width, max(im.height for im in images)), "white")
    x = 0
    for im in images:
        row.paste(im, (x, 0))
        x += im.width + gap
    return row


def _column(rows: list[Image.Image], gap: int = 6) -> Image.Image:
    sheet = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows) + gap * (len(rows) - 1)), "white")
    y = 0
    for r in rows:
        sheet.paste(r, (0, y))
        y += r.height + gap
    return sheet


def _figures_table(figures: dict) -> list[str]:
    look = figures
    lines = [
        "| figure | value |",
        "| --- | --- |",
        f"| drawing → nearest exemplar (mean / min) | {look['nearest_exemplar']['mean']:.3f} / "
        f"{look['nearest_exemplar']['min']:.3f} |",
        f"| exemplar → nearest other exemplar | {look['exemplar_spread']:.3f} |",
        f"| drawing → nearest other drawing | {look['drawing_spread']:.3f} |",
        f"| grey photo → nearest other photo | {look['photo_spread']:.3f} |",
        f"| tone response (0: every skin tone drawn alike) | {look['tone_response']:.2f} |",
    ]
    if "identity" in look:
        drawn, grey = look["identity"]["drawing"], look["identity"]["grey photo"]
        lines += [
            f"| identity: descriptor distance to own photo / to others (drawing) | {drawn['own_distance']:.3f} / "
            f"{drawn['other_distance']:.3f} |",
            f"| identity: the same for the grey photo | {grey['own_distance']:.3f} / {grey['other_distance']:.3f} |",
            f"| identity rank-1, drawing (grey photo) | {drawn['rank1']:.3f} ({grey['rank1']:.3f}) |",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style")
    parser.add_argument("--exemplars", type=Path, required=True)
    parser.add_argument("--photo", type=Path, action="append", required=True, help="public-domain photo")
    parser.add_argument("--exemplar-license", required=True, help="the exemplars' licence, with its source")
    parser.add_argument("--time", required=True, help="how long finetune took, in words, with the machine")
    parser.add_argument("--figures", type=Path, default=None, help="benchmarks/catalogue.py output")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    translator = Translator(args.style, device="cpu")
    info = translator.style.info
    name = info.name
    args.out.mkdir(parents=True, exist_ok=True)
    exemplars = [_fit(read_image(p).rgb, 120) for p in find_shots(args.exemplars)]
    _row(exemplars).save(args.out / f"{name}_exemplars.jpg", quality=90)
    pairs = []
    for path in args.photo:
        photo = read_image(path).rgb
        pairs.append(_row([_fit(photo), _fit(translator(photo).image)]))
    _column(pairs).save(args.out / f"{name}_before_after.jpg", quality=90)

    provenance = info.provenance
    lines = [
        f"# Style `{name}`",
        "",
        info.description,
        "",
        f"Exemplars ({provenance.get('shots', len(exemplars))}, from `{args.exemplars}`):",
        "",
        f"![exemplars]({name}_exemplars.jpg)",
        "",
        "Before and after (public-domain photos):",
        "",
        f"![before and after]({name}_before_after.jpg)",
        "",
        "## Licence chain",
        "",
        f"- The style as shipped: {info.license}",
        f"- Exemplars: {args.exemplar_license}",
        "- Teacher `lfw64` and the face bank: trained on / drawn from Labeled Faces in the Wild, research use.",
        "",
        "## How it was made",
        "",
        "```",
        provenance.get("command", "(command not recorded)"),
        "```",
        "",
        f"Time: {args.time}. Distillation alone: {provenance.get('distill_seconds', '?')} s.",
        "",
    ]
    if args.figures is not None:
        figures = json.loads(args.figures.read_text())
        entry = next(v for k, v in figures["styles"].items() if Path(k).name == name or k == args.style)
        lines += [
            "## Learnt the look, not the avatars",
            "",
            f"From `benchmarks/catalogue.py` on {figures['photos']} test photos ({', '.join(figures['test'])}); "
            f"distances are {figures['distance']}.",
            "",
            *_figures_table(entry),
            "",
            "How to read it: a style that reproduced an exemplar would draw faces closer to it than the exemplars "
            "are to one another; one that drew the same face for everyone would have drawings with a spread near "
            "0. dlib's descriptor calls two faces the same person under a distance of 0.6; the grey photo is the "
            "photo itself, the ceiling. Rank-1 is over all the test photos (chance: 1 in "
            f"{figures['photos']}).",
            "",
        ]
    (args.out / f"{name}.md").write_text("\n".join(lines))
    print(args.out / f"{name}.md")


if __name__ == "__main__":
    main()
