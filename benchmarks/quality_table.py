"""Print the few-shot quality tables (docs/few-shot.md) (Markdown) from ``benchmarks/quality.py`` JSON documents.

python benchmarks/quality_table.py benchmarks/results/quality_cufs_256_cpu_2core.json
python benchmarks/quality_table.py seed0.json seed1.json seed2.json   # runs of one setup on other seeds, pooled

Several documents are pooled seed by seed (each score's ``by_seed``), which is how one grid split over
processes or machines by seed is read as one; they must agree on everything but the seeds and timings.
"""

from __future__ import annotations

import json
import statistics
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
FLOORS = {
    "ssim": "grey photo (floor)", "fsim": "grey photo (floor)", "rank1": "the artists' own sketches",
    "tone_slope": "the photos themselves", "tone_darkest": "the photos themselves",
}  # fmt: skip
TITLES = {
    "ssim": "SSIM", "fsim": "FSIM", "rank1": "identity rank-1 (sketch → photo)",
    "tone_slope": "skin tone on unseen in-the-wild faces: slope, drawing against photo",
    "tone_darkest": "skin tone on unseen in-the-wild faces: the darkest tenth's drawn skin (0–255)",
}  # fmt: skip


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


# What may differ between runs that are pooled: which seeds they ran, and what they measured.
PER_RUN = {"seeds", "results", "seconds", "seconds_by_setting", "complete", "target_only_seeds"}


class PoolError(ValueError):
    """The documents given are not runs of one setup."""


def pool(reports: list[dict]) -> dict:
    """One report from runs of the same setup on different seeds: every score's seeds put together. A single
    report is returned as it is (the early ones hold each score's mean and spread without ``by_seed``)."""
    first = reports[0]
    if len(reports) == 1:
        return first
    for other in reports[1:]:
        differing = sorted(k for k in first.keys() | other.keys() if k not in PER_RUN and first.get(k) != other.get(k))
        if differing:
            raise PoolError(f"these runs differ in {', '.join(differing)}: not one setup, so not pooled")
    results: dict = {}
    for report in reports:
        for metric, by_setting in report["results"].items():
            for setting, per_k in by_setting.items():
                for k, summary in per_k.items():
                    if "by_seed" not in summary:
                        raise PoolError(f"{metric} {setting} K = {k}: no per-seed scores (a report from before "
                                        "quality.py wrote by_seed), so its seeds cannot be pooled")  # fmt: skip
                    seeds = results.setdefault(metric, {}).setdefault(setting, {}).setdefault(k, {})
                    overlap = seeds.keys() & summary["by_seed"].keys()
                    if overlap:
                        raise PoolError(f"{metric} {setting} K = {k}: seed {min(overlap)} is in more than one run")
                    seeds.update(summary["by_seed"])
    return {
        **first,
        "seeds": sorted(s for r in reports for s in r["seeds"]),
        "results": {m: {s: {k: summarise(v) for k, v in per_k.items()} for s, per_k in by_setting.items()}
                    for m, by_setting in results.items()},
        "complete": all(r.get("complete", False) for r in reports),
    }  # fmt: skip


def summarise(by_seed: dict) -> dict:
    """One score over seeds as ``benchmarks/quality.py`` writes it (and pooling rewrites it): mean, population
    standard deviation, run count, and each seed's value keyed by the seed as text."""
    values = list(by_seed.values())
    return {
        "mean": statistics.fmean(values), "std": statistics.pstdev(values), "runs": len(values),
        "by_seed": {str(seed): value for seed, value in by_seed.items()},
    }  # fmt: skip


def main() -> None:
    report = pool([json.loads(Path(name).read_text()) for name in sys.argv[1:]])
    for metric in TITLES:
        if metric in report["results"]:
            print(f"\n{TITLES[metric]} (mean ± std over seeds, runs in brackets)\n")
            print(table(report, metric))


if __name__ == "__main__":
    main()
