"""Print the README's few-shot quality table (Markdown) from a ``benchmarks/quality.py`` JSON document.

python benchmarks/quality_table.py benchmarks/results/quality_cufs_cpu_2core.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {
    "anchors_only": "K pairs alone",
    "plain_distill": "+ teacher pairs, anchor-based terms off",
    "gpd": "full GPD",
    "ceiling": "all training pairs (ceiling)",
    "gpd_no_relative": "GPD without the relative term",
    "gpd_no_adversarial": "GPD without the adversarial term",
    "gpd_no_confidence": "GPD with c(w) ≡ 1",
}


def cell(summary: dict | None) -> str:
    if summary is None:
        return "–"
    return f"{summary['mean']:.4f} ± {summary['std']:.4f} ({summary['runs']})"


def table(report: dict, metric: str) -> str:
    shots = [str(k) for k in report["shots"]]
    lines = [
        f"| teacher | setting | {' | '.join(f'K = {k}' for k in shots)} |",
        f"| --- | --- | {' | '.join('---' for _ in shots)} |",
    ]
    for name, frame in report["teachers"].items():
        floor = frame["grey_photo_floor"][metric]
        lines.append(f"| {name} | grey photo (floor) | {' | '.join(f'{floor:.4f}' for _ in shots)} |")
        for setting, label in LABELS.items():
            per_k = frame["results"][metric].get(setting)
            if per_k is None:  # an ablation this run did not train
                continue
            lines.append(f"| {name} | {label} | {' | '.join(cell(per_k.get(k)) for k in shots)} |")
    return "\n".join(lines)


def main() -> None:
    report = json.loads(Path(sys.argv[1]).read_text())
    for metric in ("ssim", "fsim"):
        print(f"\n{metric.upper()} (mean ± std over seeds, runs in brackets)\n")
        print(table(report, metric))


if __name__ == "__main__":
    main()
