"""Video: how steady the faces are (with and without landmark smoothing) and how fast, in one run.

    python benchmarks/video.py --out video.json            # steadiness + speed (a few minutes on 2 cores)
    python benchmarks/video.py --quick                      # smoke test

Steadiness. A clip is made from the astronaut (public domain) with a known camera path — a pan, a 25 %
zoom and a ±4° rotation (``clips.camera_path``) — and Grace Hopper sliding in over its second half, so the
astronaut's true landmarks in every frame are her landmarks on the still (detected once, at full
resolution) moved by that frame's transform. ``Translator.translate_video`` (the command's code path) runs
without smoothing and with it, searching whole frames on every frame (``detect_every`` 1) and, with
smoothing, at the default interval (whole frames every ``DETECT_EVERY`` frames, faces looked for near where
they were in between; ``faces_per_frame`` shows how late Grace Hopper is picked up); reported for her face:
- ``landmark_rms_px``: RMS distance of the landmarks used for alignment from the true ones;
- ``jitter_rms_px``: RMS of that error's frame-to-frame change (what shakes, as opposed to a steady offset);
- ``flicker``: mean absolute frame-to-frame change of the output's grey values inside her face box, divided
  by the same for the input (1.0: the output changes only as much as the moving input does).

Speed: a 640×480 and a 1280×720 clip with one face; frames per second and seconds per frame by stage, for
each ``--detect-every`` (default: 1 and the default interval).
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from clips import write_clip
from emit import emit

from gpdface import Translator
from gpdface.face.detect import RetinaFaceDetector
from gpdface.video import DETECT_EVERY


def main() -> None:
    args = parse_args()
    from skimage import data

    astronaut = data.astronaut()
    hopper = _grace_hopper()
    translator = Translator(args.style, device="cpu")
    report = {
        "style": args.style, "frames": args.frames, "fps": args.fps,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, CPU",
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        report["steadiness"] = steadiness(translator, astronaut, hopper, work, args)
        if not args.no_speed:
            report["speed"] = {
                f"{w}x{h}": {
                    f"detect_every_{every}": speed(translator, astronaut, (w, h), every, work, args)
                    for every in args.detect_every
                }
                for w, h in args.sizes
            }
    emit(report, args.out)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="sketch")
    parser.add_argument("--frames", type=int, default=50)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--size", type=int, nargs=2, default=[640, 480], help="the steadiness clip")
    parser.add_argument("--speed-frames", type=int, default=30)
    parser.add_argument("--detect-every", type=int, nargs="+", default=[1, DETECT_EVERY], help="speed rows")
    parser.add_argument("--no-speed", action="store_true", help="steadiness only (e.g. while the CPU is shared)")
    parser.add_argument("--quick", action="store_true", help="a few frames, small sizes: a smoke test")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.sizes = [(640, 480), (1280, 720)]
    if args.quick:
        args.frames, args.speed_frames, args.size, args.sizes = 8, 4, [320, 240], [(320, 240)]
    return args


def steadiness(translator: Translator, still: np.ndarray, entering: np.ndarray, work: Path, args) -> dict:
    clip = work / "steady.mp4"
    size = tuple(args.size)
    matrices = write_clip(clip, still, args.frames, size, args.fps, tone=False, entering=entering)
    detector = RetinaFaceDetector()
    on_still = detector.detect(still)[0].landmarks.astype(np.float64)
    truth = [np.c_[on_still, np.ones(5)] @ m.T for m in matrices]
    frames_in = _frames(clip)
    results = {}
    settings = (("raw", False, 1), ("smoothed", True, 1), (f"smoothed_detect_every_{DETECT_EVERY}", True, DETECT_EVERY))
    for name, smooth, every in settings:
        out = work / f"{name}.mp4"
        summary = translator.translate_video(clip, out, smooth=smooth, detect_every=every)
        used = [_nearest(faces, t) for faces, t in zip(summary.tracks, truth, strict=True)]
        error = np.array([u - t for u, t in zip(used, truth, strict=True)])  # frames 5 2
        jitter = np.diff(error, axis=0)
        results[name] = {
            "landmark_rms_px": float(np.sqrt((error**2).sum(-1).mean())),
            "jitter_rms_px": float(np.sqrt((jitter**2).sum(-1).mean())),
            "flicker": flicker(frames_in, _frames(out), truth),
            "identities": sorted({i for faces in summary.tracks for i, _ in faces}),
            "faces_per_frame": summary.faces_per_frame,
        }
    return results


def _nearest(faces: list[tuple[int, np.ndarray]], truth: np.ndarray) -> np.ndarray:
    """The tracked face closest to the true landmarks (the astronaut, not the face sliding in)."""
    return min((landmarks for _, landmarks in faces), key=lambda lm: np.abs(lm - truth).mean()).astype(np.float64)


def flicker(inputs: list[np.ndarray], outputs: list[np.ndarray], truth: list[np.ndarray]) -> float:
    changes_out, changes_in = [], []
    for t in range(1, len(inputs)):
        x0, y0 = np.floor(truth[t].min(0)).astype(int)
        x1, y1 = np.ceil(truth[t].max(0)).astype(int)
        pad = (x1 - x0) // 2
        box = (slice(max(0, y0 - pad), y1 + pad), slice(max(0, x0 - pad), x1 + pad))
        grey = [cv2.cvtColor(f[box], cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (outputs[t - 1], outputs[t])]
        changes_out.append(np.abs(grey[1] - grey[0]).mean())
        grey = [cv2.cvtColor(f[box], cv2.COLOR_RGB2GRAY).astype(np.float64) for f in (inputs[t - 1], inputs[t])]
        changes_in.append(np.abs(grey[1] - grey[0]).mean())
    return float(np.mean(changes_out) / max(np.mean(changes_in), 1e-9))


def speed(translator: Translator, still: np.ndarray, size: tuple[int, int], every: int, work: Path, args) -> dict:
    clip = work / f"speed_{size[0]}.mp4"
    write_clip(clip, still, args.speed_frames, size, args.fps, tone=True)
    translator.translate_video(clip, work / "warm.mp4", duration=2 / args.fps)  # warm-up
    summary = translator.translate_video(clip, work / f"speed_out_{size[0]}.mp4", detect_every=every)
    per_frame = {k: v / summary.frames for k, v in summary.seconds.items() if k != "total"}
    return {
        "frames": summary.frames,
        "frames_per_second": summary.frames / summary.seconds["total"],
        "seconds_per_frame": {k: round(v, 4) for k, v in per_frame.items()},
    }


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _grace_hopper() -> np.ndarray:
    import io

    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        return np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))


if __name__ == "__main__":
    main()
