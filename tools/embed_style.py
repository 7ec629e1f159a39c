"""Ship a style made by ``gpdface finetune`` inside the package, pinned by sha256 in the manifest.

    python tools/embed_style.py STYLE_DIR [--data "10 DiceBear Lorelei avatars (CC0)"] [--card docs/styles/x.md]

Copies the style's files into ``gpdface/weights/styles/<name>/`` and writes its ``styles`` entry in
``gpdface/weights_manifest.json`` (``embedded``: nothing to download; every file's size and sha256, which
loading checks). Refuses a model over the catalogue's 6 MB limit. With ``--card``, the packaged README names
the style's card in the repository (exemplars, command, time, before/after pictures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = ("config.json", "model.safetensors", "style.json")
MAX_MODEL_BYTES = 6_000_000


def embed(style_dir: Path, data: str | None, card: str | None) -> dict:
    info = json.loads((style_dir / "style.json").read_text())
    name = info["name"]
    model_bytes = (style_dir / "model.safetensors").stat().st_size
    if model_bytes > MAX_MODEL_BYTES:
        raise SystemExit(f"{name}: model.safetensors is {model_bytes:,} bytes, over the {MAX_MODEL_BYTES:,} limit")
    target = REPO / "gpdface" / "weights" / "styles" / name
    target.mkdir(parents=True, exist_ok=True)
    for file in (*FILES, "README.md"):
        shutil.copyfile(style_dir / file, target / file)
    if card:
        with (target / "README.md").open("a", encoding="utf-8") as readme:
            readme.write(f"\nIts card (exemplars, before/after pictures): `{card}` in the gpdface repository.\n")
    files = {}
    for file in FILES:
        body = (target / file).read_bytes()
        files[file] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    provenance = {k: info["provenance"][k] for k in ("method", "teacher", "shots", "steps") if k in info["provenance"]}
    if data:
        provenance["data"] = data
    entry = {
        "description": info["description"],
        "files": files,
        "embedded": True,
        "resolution": info["crop_size"],
        "license": info["license"],
        "provenance": provenance,
    }
    manifest_path = REPO / "gpdface" / "weights_manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["styles"][name] = entry
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("style_dir", type=Path)
    parser.add_argument("--data", default=None, help="what the style was made from, in words")
    parser.add_argument("--card", default=None, help="the card's path in the repository")
    args = parser.parse_args()
    print(json.dumps(embed(args.style_dir, args.data, args.card), indent=1))


if __name__ == "__main__":
    main()
