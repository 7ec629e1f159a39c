"""Print the README's few-shot quality tables (Markdown) from a ``benchmarks/quality.py`` JSON document.

python benchmarks/quality_table.py benchmarks/results/quality_cufs_256_cpu_2core.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {
    "anchors_only": "K pairs alone",
    "plain_distill": "plain distillation (teacher targets, c ≡ 1, no relative term)",
    "gpd": "two-scale GPD",
    "gpd_no_teacher": "GPD without the teacher term",
    "gpd_no_disc": "GPD without the patch discriminator",
    "gpd_no_confidence": "GPD with c ≡ 1",
    "gpd_no_photo_fakes": "GPD, face-bank drawings not shown to the discriminator",
    "ceiling": "all training pairs (ceiling)",
}
FLOORS = {"ssim": "grey photo (floor)", "fsim": "grey photo (floor)", "rank1": "the artists' own sketches"}
TITLES = {"ssim": "SSIM", "fsim": "FSIM", "rank1": "identity rank-1 (sketch → photo)"}


def cell(summary: dict | None) -> str:
    if summary is None:
        return "–"
    return f"{summary['mean']:.4f} ± {summary['std']:.4f} ({summary['runs']})"


def table(report: dict, metric: str) -> str:
    shots = [str(k) for k in report["shots"]]
    lines = [f"| setting | {' | '.join(f'K = {k}' for k in shots)} |", f"| --- | {' | '.join('---' for _ in shots)} |"]
    floor = report["floor"].get(metric)
    if floor is not None:
        lines.append(f"| {FLOORS[metric]} | {' | '.join(f'{floor:.4f}' for _ in shots)} |")
    for setting, label in LABELS.items():
        per_k = report["results"].get(metric, {}).get(setting)
        if per_k is not None:  # an ablation this run did not train is left out
            lines.append(f"| {label} | {' | '.join(cell(per_k.get(k)) for k in shots)} |")
    return "\n".join(lines)


def main() -> None:
    report = json.loads(Path(sys.argv[1]).read_text())
    for metric in ("ssim", "fsim", "rank1"):
        if metric in report["results"]:
            print(f"\n{TITLES[metric]} (mean ± std over seeds, runs in brackets)\n")
            print(table(report, metric))


if __name__ == "__main__":
    main()
