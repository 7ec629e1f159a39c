"""Write a style's card: its exemplars as a strip, before/after pictures, the command, the time, the
licence chain, the copying/identity figures of ``benchmarks/catalogue.py`` and the faithfulness figures and
worst-12 sheets of ``benchmarks/faithfulness.py`` beside the style it replaces.

    python tools/style_card.py STYLE --exemplars examples/exemplars/lorelei --photo astronaut.jpg \
        --photo hopper.jpg --time "13 min 11 s on 2 CPU cores (face bank and encoder cached)" \
        --figures catalogue.json --faithfulness faithfulness.json --before "ink (before)" \
        --sheets faithfulness_sheets --out docs/styles

Writes ``OUT/<name>.md``, ``OUT/<name>_exemplars.jpg``, ``OUT/<name>_before_after.jpg`` and, with
``--sheets``, ``OUT/<name>_worst12_{before,after}.jpg``. Use only public-domain photos for --photo (the
README's rule for published pictures); the worst-12 sheets show LFW faces (research use), as the card says.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

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


FAITHFUL_COLUMNS = (
    ("found", lambda r: r["all"]["found"], "{:.3f}"),
    ("NME", lambda r: r["all"]["nme"], "{:.3f}"),
    ("mouth NME", lambda r: r["all"]["mouth_nme"], "{:.3f}"),
    ("rank-1", lambda r: r["all"].get("rank1", float("nan")), "{:.3f}"),
    ("mouth NME, smiles", lambda r: r["mouth"]["wide mouth (smile)"]["mouth_nme"], "{:.3f}"),
    ("mouth NME, three-quarter", lambda r: r["yaw"]["turned (three-quarter)"]["mouth_nme"], "{:.3f}"),
    ("rank-1, dark skin", lambda r: r["skin"]["dark skin"].get("rank1", float("nan")), "{:.3f}"),
)


def _sheet_name(label: str) -> str:
    """The file name ``benchmarks/faithfulness.py`` gives a label's worst-12 sheet."""
    return "worst12_" + "".join(ch if ch.isalnum() else "_" for ch in label).strip("_") + ".png"


def faithfulness_lines(report: dict[str, Any], name: str, after: str, before: str | None) -> list[str]:
    """The card's faithfulness section: the grey photo, the style it replaces and this style, from one run."""
    rows = report["results"]
    shown = [("grey photo (reference)", "grey photo")]
    if before is not None:
        shown.append((before, f"`{name}` before"))
    shown.append((after, f"`{name}` now"))
    lines = [
        "## Faithful on unseen faces",
        "",
        f"From `benchmarks/faithfulness.py`, one run: {report['faces']} faces of people no style was trained on "
        f"({report['lfw_photos']} LFW photos, part `{report['part']}`, and the public-domain photos), drawn whole "
        f"as a user gets them; {report['machine']}. NME: landmark error over the eye distance, RetinaFace run "
        "again on the drawing; rank-1: dlib's descriptor of the drawn face against every photo's face.",
        "",
        "| | " + " | ".join(c[0] for c in FAITHFUL_COLUMNS) + " |",
        "| --- " * (len(FAITHFUL_COLUMNS) + 1) + "|",
    ]
    for label, title in shown:
        cells = [form.format(value(rows[label])) for _, value, form in FAITHFUL_COLUMNS]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _worst_sheets(sheets: Path, out: Path, name: str, after: str, before: str | None) -> list[str]:
    """Copy the worst-12 sheets beside the card (as JPEG) and return the lines that show them."""
    lines = ["The 12 faces each version kept worst (photo, drawing; green: the photo's landmarks, red: the "
             "drawing's). LFW photos: research use.", ""]  # fmt: skip
    for label, which in ((before, "before"), (after, "after")):
        if label is None:
            continue
        picture = Image.open(sheets / _sheet_name(label)).convert("RGB")
        picture.save(out / f"{name}_worst12_{which}.jpg", quality=88)
        lines += [f"{which.capitalize()}:", "", f"![worst 12, {which}]({name}_worst12_{which}.jpg)", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style")
    parser.add_argument("--exemplars", type=Path, default=None, help="the exemplar folder (a strip on the card)")
    parser.add_argument("--photo", type=Path, action="append", required=True, help="public-domain photo")
    parser.add_argument("--exemplar-license", required=True, help="the exemplars' licence, with its source")
    parser.add_argument("--faithfulness", type=Path, default=None, help="benchmarks/faithfulness.py output")
    parser.add_argument("--after", default=None, help="this style's label in --faithfulness (default: its name)")
    parser.add_argument("--before", default=None, help="the label of the style it replaces in --faithfulness")
    parser.add_argument("--sheets", type=Path, default=None, help="that run's --sheets folder")
    parser.add_argument("--time", required=True, help="how long finetune took, in words, with the machine")
    parser.add_argument("--figures", type=Path, default=None, help="benchmarks/catalogue.py output")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    translator = Translator(args.style, device="cpu")
    info = translator.style.info
    name = info.name
    args.out.mkdir(parents=True, exist_ok=True)
    exemplars = [_fit(read_image(p).rgb, 120) for p in find_shots(args.exemplars)] if args.exemplars else []
    if exemplars:
        _row(exemplars).save(args.out / f"{name}_exemplars.jpg", quality=90)
    pairs = []
    for path in args.photo:
        photo = read_image(path).rgb
        pairs.append(_row([_fit(photo), _fit(translator(photo).image)]))
    _column(pairs).save(args.out / f"{name}_before_after.jpg", quality=90)

    provenance = info.provenance
    shown_exemplars = [
        f"Exemplars ({provenance.get('shots', len(exemplars))}, from `{args.exemplars}`):",
        "",
        f"![exemplars]({name}_exemplars.jpg)",
        "",
    ]
    prior = (
        "- Teacher `lfw64` and the face bank: trained on / drawn from Labeled Faces in the Wild, research use."
        if provenance.get("teacher", "none") != "none"
        else "- The face bank the faithfulness terms draw on: Labeled Faces in the Wild, research use."
    )
    lines = [
        f"# Style `{name}`",
        "",
        info.description,
        "",
        *(shown_exemplars if exemplars else []),
        "Before and after (public-domain photos):",
        "",
        f"![before and after]({name}_before_after.jpg)",
        "",
        "## Licence chain",
        "",
        f"- The style as shipped: {info.license}",
        f"- Exemplars: {args.exemplar_license}",
        prior,
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
    if args.faithfulness is not None:
        report = json.loads(args.faithfulness.read_text())
        lines += faithfulness_lines(report, name, args.after or name, args.before)
        if args.sheets is not None:
            lines += _worst_sheets(args.sheets, args.out, name, args.after or name, args.before)
    (args.out / f"{name}.md").write_text("\n".join(lines))
    print(args.out / f"{name}.md")


if __name__ == "__main__":
    main()
