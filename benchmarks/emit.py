"""How every benchmark ends: one JSON document on stdout, and the same text in ``--out`` when given."""

from __future__ import annotations

import json
from pathlib import Path


def emit(report: dict, out: Path | None) -> None:
    text = json.dumps(report, indent=2)
    if out:
        out.write_text(text + "\n")
    print(text)
