"""Quality checks of a pretrained teacher against real aligned faces, with no downloaded network.

    python benchmarks/teacher.py --faces ../shared/assets/faces/lfw-deepfunneled \
        --teacher lfw64 --teacher dcgan64 --grid-dir examples --out teacher.json

The faces are aligned (and cached under --work) exactly as ``gpdface pretrain-teacher`` does, and split
the same way (whole identities held out), so "train" and "held-out" are the teacher's own. For each
teacher, on ``--samples`` samples, next to the same figure for the held-out real faces:
- face rate: share of images in which RetinaFace finds exactly one face with score ≥ 0.9 (upsampled 4×);
- landmark Fréchet distance: between the Gaussians of the 5 detected landmarks (10-d, pixels at the
  teacher's resolution) of the images and of the held-out faces; the reference is the distance between two
  halves of the held-out faces;
- diversity: mean RMS pixel distance (0–1 scale) between random pairs;
- memorisation: RMS distance of each image to its nearest training face (or its mirror); a sample much
  closer than held-out faces are is a copy. Reported as mean and 1st percentile, and the share of samples
  nearer than the held-out faces' 1st percentile;
- sample distance: KID ×1000 to the held-out faces on the pinned detector's backbone features
  (``gpdface.train.evaluation.sample_distance``); the reference is the training faces' own distance;
- reconstruction (``--reconstruct N``): how well the teacher reproduces N held-out real faces through the
  finetune path's own encoder (trained, or reused, in ``$GPDFACE_HOME/encoders`` exactly as ``finetune``
  trains it) and through projection (the exemplars' path, ``--project M`` faces): median of mean L1 +
  (1 − MS-SSIM), measured at the benchmark's resolution (a teacher of another size is resized to it) and at
  the teacher's own.
Every check is made at ``--resolution``: samples of a teacher of another size are resized to it.
Faces in a different frame than the FFHQ one (dcgan64 has its own template) are compared as they are:
its landmark distance then also measures the frame difference. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import cv2
import numpy as np
import scipy.linalg
import torch
from emit import emit

from gpdface.face.align import template_for
from gpdface.face.detect import RetinaFaceDetector
from gpdface.hub import gpdface_home
from gpdface.imageio import to_uint8
from gpdface.recipe import FinetuneRecipe
from gpdface.train.data.faceset import align_collection, identity_holdout
from gpdface.train.evaluation.sample_distance import face_features, kernel_distance
from gpdface.train.finetune import gpd_settings
from gpdface.train.gpd.encoder import encode, reconstruction_error, train_encoder
from gpdface.train.gpd.invert import project
from gpdface.train.gpd.stages import shared_encoder_dir
from gpdface.train.teachers import load_teacher
from gpdface.train.visual import save_grid


def detect_landmarks(images: np.ndarray, detector, upsample: int = 4, min_score: float = 0.9):
    """(share with exactly one confident face, ``M 10`` landmarks of those faces at the images' scale)."""
    found = []
    for image in images:
        big = cv2.resize(image, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_CUBIC)
        faces = [f for f in detector.detect(big) if f.score >= min_score]
        if len(faces) == 1:
            found.append(faces[0].landmarks.reshape(-1) / upsample)
    return len(found) / len(images), np.array(found, np.float64).reshape(-1, 10)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of ``a`` and ``b``."""
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def flat(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div(255).flatten(1)


def mean_pair_distance(images: np.ndarray, pairs: int = 2000, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(images), (2, pairs))
    keep = a != b
    x = flat(images)
    return float(((x[a[keep]] - x[b[keep]]) ** 2).mean(1).sqrt().mean())


def nearest_training(images: np.ndarray, train: np.ndarray, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """RMS distance of each image to its nearest training face or mirrored face, and that face's index."""
    reference = torch.cat([flat(train), flat(np.ascontiguousarray(train[:, :, ::-1]))])
    queries = flat(images)
    distances, indices = [], []
    for start in range(0, len(queries), chunk):
        d = torch.cdist(queries[start : start + chunk], reference)
        best, where = d.min(1)
        distances.append(best / np.sqrt(queries.shape[1]))
        indices.append(where % len(train))
    return torch.cat(distances).numpy(), torch.cat(indices).numpy()


def checks(images: np.ndarray, held_out: np.ndarray, train: np.ndarray, detector, real_landmarks, held_near,
           held_features) -> dict:  # fmt: skip
    rate, landmarks = detect_landmarks(images, detector)
    near, _ = nearest_training(images, train)
    kid, kid_std = kernel_distance(face_features(images, detector), held_features)
    return {
        "kid_x1000": 1000 * kid,
        "kid_x1000_std": 1000 * kid_std,
        "face_rate": rate,
        "landmark_frechet": frechet(landmarks, real_landmarks) if len(landmarks) > 10 else None,
        "diversity": mean_pair_distance(images),
        "nearest_train_mean": float(near.mean()),
        "nearest_train_p01": float(np.percentile(near, 1)),
        "share_nearer_than_heldout_p01": float((near < np.percentile(held_near, 1)).mean()),
    }


def resized(images: np.ndarray, side: int) -> np.ndarray:
    if images.shape[1] == side:
        return images
    shrink = images.shape[1] > side
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(i, (side, side), interpolation=interpolation) for i in images])


def as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)


def reconstruction(teacher, faces: np.ndarray, projected: int, side: int, recipe: FinetuneRecipe) -> dict:
    """Encoder and projection reconstruction errors of ``faces`` (held out), at ``side`` and at the teacher's size."""
    settings = gpd_settings(recipe)
    folder = shared_encoder_dir(gpdface_home(), teacher, settings.encoder)  # the one finetune trains and reuses
    encoder = train_encoder(teacher, settings.encoder, folder, resume=(folder / "encoder.ckpt").is_file())
    photos = as_tensor(resized(faces, teacher.resolution))
    encoded = encode(teacher, encoder, photos, refine_steps=settings.refine_steps)
    with torch.no_grad():
        drawn = to_uint8(teacher.synthesis(encoded.latents).float())
    found = project(teacher, photos[:projected], steps=settings.projection_steps)
    projections = to_uint8(found.reconstructions.float())

    def at_side(images) -> torch.Tensor:
        return reconstruction_error(
            as_tensor(resized(np.stack(images), side)), as_tensor(resized(faces[: len(images)], side))
        )

    return {
        "encoder_median": float(at_side(drawn).median()),
        "encoder_median_own_resolution": float(encoded.errors.median()),
        "projection_median": float(at_side(projections).median()),
        "projection_median_own_resolution": float(
            reconstruction_error(found.reconstructions.float().cpu(), photos[:projected]).median()
        ),
        "faces": len(faces),
        "projected_faces": projected,
        "encoder_steps": settings.encoder.steps,
        "projection_steps": settings.projection_steps,
        "sheet": [faces[:8], resized(np.stack(drawn[:8]), side), resized(np.stack(projections[:8]), side)],
    }


@torch.no_grad()
def sample(teacher, count: int, seed: int) -> np.ndarray:
    latents = teacher.sample_latents(count, torch.Generator().manual_seed(seed))
    return np.concatenate([to_uint8(teacher.synthesis(z).float()) for z in latents.split(100)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=Path, required=True, help="the real face collection the teacher saw")
    parser.add_argument("--teacher", action="append", required=True)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--holdout", type=int, default=500)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=Path("runs/teacher_benchmark"), help="aligned-face cache")
    parser.add_argument("--reconstruct", type=int, default=100, help="held-out faces to reconstruct (0: skip)")
    parser.add_argument("--project", type=int, default=16, help="of those, faces to project as exemplars are")
    parser.add_argument("--encoder-steps", type=int, default=FinetuneRecipe.encoder_steps, help="as finetune's")
    parser.add_argument("--projection-steps", type=int, default=FinetuneRecipe.projection_steps, help="as finetune's")
    parser.add_argument("--grid-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    recipe = FinetuneRecipe(encoder_steps=args.encoder_steps, projection_steps=args.projection_steps)
    started = time.perf_counter()
    detector = RetinaFaceDetector()
    faces = align_collection(
        args.faces, args.work / f"aligned_{args.resolution}", detector, args.resolution, template_for(args.resolution)
    )
    held = identity_holdout(faces.names, args.holdout)
    train, held_out = faces.images[~held], faces.images[held]
    real_rate, real_landmarks = detect_landmarks(held_out, detector)
    held_near, _ = nearest_training(held_out, train)
    held_features = face_features(held_out, detector)
    some_train = train[np.random.default_rng(args.seed).choice(len(train), len(held_out), replace=False)]
    train_kid, train_kid_std = kernel_distance(face_features(some_train, detector), held_features)
    real = {
        "kid_x1000_train_vs_heldout": 1000 * train_kid,
        "kid_x1000_train_vs_heldout_std": 1000 * train_kid_std,
        "face_rate": real_rate,
        "landmark_frechet_half_vs_half": frechet(real_landmarks[: len(real_landmarks) // 2],
                                                 real_landmarks[len(real_landmarks) // 2 :]),
        "diversity": mean_pair_distance(held_out),
        "nearest_train_mean": float(held_near.mean()),
        "nearest_train_p01": float(np.percentile(held_near, 1)),
        "faces": len(held_out),
    }  # fmt: skip
    teachers = {}
    for name in args.teacher:
        teacher = load_teacher(name)
        images = resized(sample(teacher, args.samples, args.seed), args.resolution)
        teachers[name] = checks(images, held_out, train, detector, real_landmarks, held_near, held_features)
        teachers[name]["resolution"] = teacher.resolution
        if args.reconstruct:
            found = reconstruction(teacher, held_out[: args.reconstruct], args.project, args.resolution, recipe)
            sheet = found.pop("sheet")
            teachers[name]["reconstruction"] = found
            if args.grid_dir is not None:
                sheet_path = args.grid_dir / f"teacher_{name}_reconstruction_{args.resolution}.png"
                save_grid(sheet_path, [list(row) for row in sheet], tile=96)
        print(name, teachers[name], flush=True)
        if args.grid_dir is not None:
            write_grids(args.grid_dir, name, images, train)
    report = {
        "faces_folder": str(args.faces), "resolution": args.resolution, "train_faces": len(train),
        "skipped_photos": len(faces.skipped), "samples": args.samples, "seed": args.seed,
        "real_heldout": real, "teachers": teachers,
        "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
        "seconds": time.perf_counter() - started,
    }  # fmt: skip
    emit(report, args.out)


def write_grids(folder: Path, name: str, images: np.ndarray, train: np.ndarray) -> None:
    """``teacher_<name>_samples.png`` (8 × 8 samples) and ``…_nearest.png`` (samples above nearest training faces)."""
    save_grid(folder / f"teacher_{name}_samples.png", [list(images[r * 8 : (r + 1) * 8]) for r in range(8)], tile=96)
    _, nearest = nearest_training(images[:8], train)
    save_grid(folder / f"teacher_{name}_nearest.png", [list(images[:8]), list(train[nearest])], tile=96)


if __name__ == "__main__":
    main()
