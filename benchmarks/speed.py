"""Speed and memory of gpdface, with the teacher route and the machine's own limit, in one run.

    python benchmarks/speed.py                 # CPU, full run (a few minutes on 2 cores)
    python benchmarks/speed.py --device cuda   # fp32 and fp16
    python benchmarks/speed.py --quick         # smoke test

Prints one JSON document (and writes it with --out). Times are medians after warm-up. The student's
weights do not change its speed, so a freshly initialised student is timed when no style is given;
the teacher route uses a randomly initialised StyleGAN2-256 config-f for the same reason.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from emit import emit

from gpdface.imageio import read_image, write_image
from gpdface.nets import StudentConfig, StudentNet, count_flops
from gpdface.nets.fuse import fold_batchnorm

REPO = Path(__file__).resolve().parents[1]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


CPU = torch.device("cpu")


def median_time(fn, repeats: int, warmup: int = 2, device: torch.device = CPU) -> float:
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine_limit(device: torch.device, dtype: torch.dtype, repeats: int) -> dict:
    """GFLOP/s of a large dense 3×3 convolution and of a large matmul."""
    x = torch.randn(8, 128, 128, 128, device=device, dtype=dtype).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(128, 128, 3, padding=1, bias=False).to(device, dtype).to(memory_format=torch.channels_last)
    a = torch.randn(2048, 2048, device=device, dtype=dtype)
    with torch.inference_mode():
        conv_s = median_time(lambda: conv(x), repeats, device=device)
        mm_s = median_time(lambda: a @ a, repeats, device=device)
    conv_flops = 2 * 8 * 128 * 128 * 128 * 128 * 9
    return {"conv_gflops": conv_flops / conv_s / 1e9, "matmul_gflops": 2 * 2048**3 / mm_s / 1e9}


def student_figures(model: StudentNet, device, dtype, repeats: int, sizes, batches) -> list[dict]:
    """The student as ``Translator`` runs it: batch norm folded, channels-last (``fold_batchnorm``)."""
    rows = []
    model = fold_batchnorm(model).to(device, dtype, memory_format=torch.channels_last)
    for size in sizes:
        flops = count_flops(model.float(), size)
        model = model.to(dtype)
        for batch in batches:
            x = torch.randn(batch, 3, size, size, device=device, dtype=dtype).contiguous(
                memory_format=torch.channels_last
            )
            with torch.inference_mode():
                seconds = median_time(lambda x=x, m=model: m(x), repeats, device=device)
            rows.append({
                "size": size, "batch": batch, "latency_ms": seconds * 1e3, "images_per_s": batch / seconds,
                "ms_per_face": seconds * 1e3 / batch, "gflop_per_face": flops / 1e9,
                "achieved_gflops": flops * batch / seconds / 1e9,
            })  # fmt: skip
    return rows


def test_photo(faces: int, size: int = 1024) -> np.ndarray:
    """A 1024² photo with 1 or 4 real faces (scikit-image's astronaut, public domain)."""
    from skimage import data

    face = data.astronaut()
    if faces == 1:
        return cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
    tile = cv2.resize(face, (size // 2, size // 2), interpolation=cv2.INTER_AREA)
    return np.vstack([np.hstack([tile, tile]), np.hstack([tile, tile])])


def pipeline_figures(translator, photo: np.ndarray, repeats: int, workdir: Path) -> dict:
    """The translate pipeline split into its stages, on a JPEG file as a user would give it."""
    source = workdir / f"photo_{photo.shape[1]}.jpg"
    write_image(source, photo)
    # compose: the style's background, the head masks and the paste (Translator.compose)
    stages: dict[str, list[float]] = {k: [] for k in ("read", "detect", "align", "student", "compose", "write")}
    faces = 0
    for run in range(repeats + 1):
        t0 = time.perf_counter()
        loaded = read_image(source)
        t1 = time.perf_counter()
        detections = translator.detect(loaded)
        t2 = time.perf_counter()
        prepared = translator.align(loaded, detections)
        t3 = time.perf_counter()
        stylized = translator.stylize(prepared.crops)
        sync(translator.device)
        t4 = time.perf_counter()
        result = translator.compose(prepared, stylized)  # the style's background, head masks, paste
        t5 = time.perf_counter()
        write_image(workdir / "out.jpg", result.image)
        t6 = time.perf_counter()
        faces = len(detections)
        if run == 0:
            continue  # warm-up
        for key, (a, b) in zip(stages, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6)], strict=True):
            stages[key].append(b - a)
    medians = {f"{k}_ms": statistics.median(v) * 1e3 for k, v in stages.items()}
    total = sum(medians.values())
    return {"faces": faces, **medians, "total_ms": total, "non_student_fraction": 1 - medians["student_ms"] / total}


def teacher_route(device, dtype, steps_timed: int, projection_steps: int, repeats: int) -> dict:
    """Projection into StyleGAN2-256 (config-f, random weights) plus one synthesis with the adapted generator."""
    from gpdface.train.teachers.stylegan2 import Generator

    generator = Generator(256, 512, 8, channel_multiplier=2).to(device).eval()
    for p in generator.parameters():
        p.requires_grad_(False)
    noise = generator.fixed_noise()
    w = generator.mean_latent(1000).unsqueeze(1).repeat(1, generator.n_latent, 1).requires_grad_(True)
    target = torch.zeros(1, 3, 256, 256, device=device)
    optimizer = torch.optim.Adam([w], lr=0.01)

    def projection_step() -> None:
        loss = (generator.synthesis(w, noise) - target).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step_s = median_time(projection_step, steps_timed, warmup=1, device=device)
    with torch.inference_mode():
        synthesis_s = median_time(lambda: generator.synthesis(w.detach(), noise), repeats, warmup=1, device=device)
    return {
        "projection_step_s": step_s,
        "projection_steps": projection_steps,
        "projection_s": step_s * projection_steps,
        "projection_extrapolated_from_steps": steps_timed,
        "synthesis_s": synthesis_s,
        "route_s": step_s * projection_steps + synthesis_s,
    }


def peak_memory_translate(style: str, workdir: Path) -> dict:
    """Peak resident memory of `gpdface translate` on a 24-megapixel photo with one face, in a fresh process."""
    photo = np.full((4000, 6000, 3), 110, np.uint8)
    face = cv2.resize(test_photo(1), (1600, 1600), interpolation=cv2.INTER_CUBIC)
    photo[1200:2800, 2200:3800] = face
    path = workdir / "photo_24mp.jpg"
    write_image(path, photo)
    code = (
        "import resource, sys\n"
        "from gpdface.cli import app\n"
        "try:\n    app()\nexcept SystemExit as e:\n    code = e.code\n"
        "print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'EXIT', code)\n"
    )
    args = [sys.executable, "-c", code, "translate", str(path), "-o", str(workdir / "out24.jpg"), "--style", style]
    done = subprocess.run(args, capture_output=True, text=True, env=os.environ)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("PEAK_KB")), None)
    if line is None:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "no output"}
    _, peak_kb, _, code = line.split()
    return {"megapixels": 24.0, "peak_rss_mb": int(peak_kb) / 1024, "exit_code": int(code) if code != "None" else 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--style", default=None, help="style to time (default: a fresh student of the default size)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--quick", action="store_true", help="few repeats and sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--widths", type=int, nargs="*", default=[],
        help="also time fresh students whose first stage has these widths (each stage doubles it) at 256 px, "
        "batch 1: the speed side of the capacity trade",
    )  # fmt: skip
    parser.add_argument(
        "--backends", nargs="*", default=["torch", "onnxruntime"],
        help="student runtimes to time side by side (onnxruntime needs the onnx extra)",
    )  # fmt: skip
    parser.add_argument(
        "--detector-only", action="store_true",
        help="only the detector-scale rows (the 1024² pipeline with each --scan-face), for a quick comparison",
    )  # fmt: skip
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    repeats = 2 if args.quick else 10
    workdir = Path(tempfile.mkdtemp(prefix="gpdface-bench-"))

    from gpdface.style import StyleInfo, load_style, save_style
    from gpdface.translator import Translator

    style = args.style
    if style is None:
        style = str(save_style(workdir / "timing-style", StudentNet(StudentConfig()), StyleInfo("timing-only")))
    if args.detector_only:
        emit({"style": style, "detector_scale": detector_rows(style, device, repeats, workdir)}, args.out)
        return
    model = load_style(style).model
    dtypes = [torch.float32] + ([torch.float16] if device.type == "cuda" else [])
    report: dict = {
        "machine": {
            "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        },
        "quick": args.quick, "style": style, "results": {},
    }  # fmt: skip
    for dtype in dtypes:
        name = str(dtype).replace("torch.", "")
        limit = machine_limit(device, dtype, repeats)
        students = student_figures(
            model, device, dtype, repeats, [256] if args.quick else [256, 512], [1] if args.quick else [1, 8]
        )
        translator = Translator(style, device=device, dtype=dtype)
        pipelines = {f"{n}_face": pipeline_figures(translator, test_photo(n), repeats, workdir) for n in (1, 4)}
        best = max(r["achieved_gflops"] for r in students if r["size"] == 256)
        report["results"][name] = {
            "limit": limit,
            "student": students,
            "pipeline_1024": pipelines,
            "student_over_conv_limit": best / limit["conv_gflops"],
        }
    route = teacher_route(device, torch.float32, 2 if args.quick else 5, 100, 1 if args.quick else 3)
    one_face_s = report["results"]["float32"]["pipeline_1024"]["1_face"]["total_ms"] / 1e3
    student_s = next(r for r in report["results"]["float32"]["student"] if r["size"] == 256 and r["batch"] == 1)
    report["teacher_route"] = route
    report["ratios"] = {
        "teacher_route_over_student_pipeline": route["route_s"] / one_face_s,
        "synthesis_over_student_pipeline": route["synthesis_s"] / one_face_s,
        "synthesis_over_student": route["synthesis_s"] / (student_s["latency_ms"] / 1e3),
    }
    report["memory_24mp"] = peak_memory_translate(style, workdir)
    report["capacity"] = [capacity_row(width, device, repeats) for width in args.widths]
    report["backends"] = {name: backend_row(style, name, device, repeats, workdir) for name in args.backends}
    report["detector_scale"] = detector_rows(style, device, repeats, workdir)
    emit(report, args.out)


def detector_rows(style: str, device: torch.device, repeats: int, workdir: Path) -> dict:
    """The 1024² pipeline (1 and 4 faces) with detection sized for 40 px faces (the default) and with one
    full pass (``--scan-face 0``), side by side in one run."""
    from gpdface.translator import Translator

    rows = {}
    for label, scan_face in (("scan_face_40", 40.0), ("one_pass", None)):
        translator = Translator(style, device=device, scan_face=scan_face)
        rows[label] = {f"{n}_face": pipeline_figures(translator, test_photo(n), repeats, workdir) for n in (1, 4)}
    return rows


def backend_row(style: str, backend: str, device: torch.device, repeats: int, workdir: Path) -> dict:
    """The student at 256 px (batch 1 and 8) and the 1024² one-face pipeline on one backend, through
    ``Translator.run_student`` — the path ``translate --backend`` takes."""
    from gpdface.translator import Translator

    try:
        translator = Translator(style, device=device, backend=backend)
    except Exception as exc:  # e.g. the onnx extra is not installed: say so in the report
        return {"error": f"{type(exc).__name__}: {exc}"}
    student = {}
    for batch in (1, 8):
        x = torch.rand(batch, 3, 256, 256) * 2 - 1
        seconds = median_time(lambda x=x: translator.run_student(x), repeats, device=device)
        student[f"batch_{batch}_ms_per_face"] = seconds * 1e3 / batch
    pipeline = pipeline_figures(translator, test_photo(1), repeats, workdir)
    return {"student_256": student, "pipeline_1024_1_face": pipeline}


def capacity_row(width: int, device: torch.device, repeats: int) -> dict:
    """Speed of a fresh student with stage widths ``width·(1, 2, 4, 8)`` (256 px, batch 1, fp32)."""
    model = StudentNet(StudentConfig(channels=tuple(width * 2**i for i in range(4))))
    parameters = sum(p.numel() for p in model.parameters())
    (row,) = student_figures(model, device, torch.float32, repeats, [256], [1])
    return {"width": width, "parameters": parameters, **row}


if __name__ == "__main__":
    main()
