"""quality_table pools runs of one setup made on different seeds, and refuses runs of different setups."""

import statistics
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from quality_table import PoolError, pool, table


def run(seed: int, ssim: float, steps: int = 300, device: str = "cuda (NVIDIA H200)") -> dict:
    """A quality.py report of one seed, cut to the fields pooling reads."""
    return {
        "shots": [5], "seeds": [seed], "steps": steps, "device": device, "floor": {"ssim": 0.46},
        "results": {"ssim": {"gpd": {"5": {"mean": ssim, "std": 0.0, "runs": 1, "by_seed": {str(seed): ssim}}}}},
        "seconds": 100.0 + seed, "complete": seed != 2,
    }  # fmt: skip


def test_pooled_runs_hold_every_seed_with_mean_and_population_std():
    pooled = pool([run(0, 0.47), run(1, 0.48), run(2, 0.50)])
    gpd = pooled["results"]["ssim"]["gpd"]["5"]
    assert gpd["by_seed"] == {"0": 0.47, "1": 0.48, "2": 0.50} and gpd["runs"] == 3
    assert gpd["mean"] == pytest.approx(statistics.fmean([0.47, 0.48, 0.50]))
    assert gpd["std"] == pytest.approx(statistics.pstdev([0.47, 0.48, 0.50]))
    assert pooled["seeds"] == [0, 1, 2] and pooled["complete"] is False  # seed 2's run was cut short
    assert "0.4833 ± 0.0125 (3)" in table(pooled, "ssim")


def test_runs_of_different_setups_or_the_same_seed_are_not_pooled():
    with pytest.raises(PoolError, match="differ in steps"):
        pool([run(0, 0.47), run(1, 0.48, steps=1000)])
    with pytest.raises(PoolError, match="differ in device"):
        pool([run(0, 0.47), run(1, 0.48, device="cpu (x86_64, 2 threads)")])
    with pytest.raises(PoolError, match="seed 0 is in more than one run"):
        pool([run(0, 0.47), run(0, 0.48)])
    assert issubclass(PoolError, ValueError)


def test_one_report_is_printed_as_written_even_without_per_seed_scores():
    early = run(0, 0.47)
    del early["results"]["ssim"]["gpd"]["5"]["by_seed"]  # reports written before quality.py recorded seeds
    early["results"]["ssim"]["gpd"]["5"] |= {"mean": 0.475, "std": 0.002, "runs": 3}
    assert pool([early]) is early
    assert "0.4750 ± 0.0020 (3)" in table(pool([early]), "ssim")
    with pytest.raises(PoolError, match="no per-seed scores"):
        pool([early, run(1, 0.48)])
