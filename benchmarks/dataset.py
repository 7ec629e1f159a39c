"""Throughput of `gpdface translate-dataset`: one process against Ray workers, in one run on one machine.

    python benchmarks/dataset.py --photos 200 --workers 2 --out benchmarks/results/dataset_cpu_2core.json

Input: ``--photos`` LFW photos (250×250, one face each; people outside the face bank) copied into a temporary
folder. The same ``run_dataset`` the command runs, with ``engine="local"`` (one process, the machine's
threads) and ``engine="ray"`` (``--workers`` actors of one CPU each); each drawn into its own empty folder.
Reported: images/s of each whole run (Ray's includes starting Ray, its actors and loading the style in
each), and when Ray's first batch came back. From ``--gpu-ms-per-image`` (a GPU figure from
``benchmarks/speed.py``, or the default below) a worked estimate of a million photos on ``--gpu-workers`` GPU
workers. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch
from emit import emit

from gpdface.dataset import DatasetJob, run_dataset
from gpdface.train.evaluation.faithfulness import unseen_people_photos

SHARED = Path(__file__).resolve().parents[2] / "shared" / "assets"
# benchmarks/results/speed_cuda_h200.json: a 1024² photo with one face through the whole pipeline in fp16 on
# one H200 (decode, detect, align, student, compose, encode): 37 ms, nine tenths of it CPU work.
H200_MS_PER_PHOTO = 37.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--style", default="sketch")
    parser.add_argument("--lfw", type=Path, default=SHARED / "faces" / "lfw-deepfunneled")
    parser.add_argument("--gpu-ms-per-image", type=float, default=H200_MS_PER_PHOTO)
    parser.add_argument("--gpu-workers", type=int, default=8)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gpdface-dataset-bench-") as scratch:
        source = Path(scratch) / "in"
        source.mkdir()
        for path in unseen_people_photos(args.lfw, 2000, args.photos, "dev"):
            shutil.copy(path, source / path.name)
        rows = {}
        began = time.perf_counter()
        local = run_dataset(DatasetJob(str(source), f"{scratch}/local", args.style, engine="local",
                                       batch_size=args.batch_size))  # fmt: skip
        rows["local"] = _row(local, time.perf_counter() - began, None)

        import ray

        began = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        first: list[float] = []
        job = DatasetJob(str(source), f"{scratch}/ray", args.style, engine="ray", batch_size=args.batch_size,
                         concurrency=args.workers)  # fmt: skip
        report = run_dataset(job, on_batch=lambda done, total: first or first.append(time.perf_counter() - began))
        rows["ray"] = _row(report, time.perf_counter() - began, first[0] if first else None)
        ray.shutdown()

    per_worker = 1000.0 / args.gpu_ms_per_image
    estimate_hours = 1_000_000 / (per_worker * args.gpu_workers) / 3600
    emit(
        {
            "photos": args.photos, "style": args.style, "workers": args.workers, "batch_size": args.batch_size,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
            "results": rows,
            "million_photos_estimate": {
                "gpu_workers": args.gpu_workers, "gpu_ms_per_image": args.gpu_ms_per_image,
                "images_per_second": per_worker * args.gpu_workers, "hours": estimate_hours,
                "assumes": "each GPU worker as fast as speed.py's one-photo pipeline (CPU work included: give each "
                "worker its own CPU cores), reading and writing keep up (a bucket in the same region)",
            },
        },
        args.out,
    )  # fmt: skip


def _row(report, seconds: float, first_batch: float | None) -> dict:
    row = {"images": report.found, "drawn": report.drawn, "failed": report.failed, "seconds": seconds,
           "images_per_second": report.found / seconds}  # fmt: skip
    if first_batch is not None:
        # Ray: from ray.init until the first batch's records are back. Results reach the driver in bunches
        # (on 2 cores most came back at the end), so no steady rate is derived from it.
        row["first_batch_back_seconds"] = first_batch
    return row


if __name__ == "__main__":
    main()
