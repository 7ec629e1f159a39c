"""Two-scale GPD's teacher stages, from anchors and a face bank to the student's training data — the one code
path that ``gpdface finetune`` and ``benchmarks/quality.py`` both run.

    project → adapt → encode

1. **project** the anchors into G_s in the teacher's frame: the exemplars themselves (``--shots``), or the
   real source photos (``--pairs``). With shots, each anchor's source photo becomes G_s(w_i), brought into
   the style's frame at its crop size (the only photo such an exemplar has).
2. **adapt** G_t ← G_s on the targets (at the teacher's resolution), stopping on the correspondence check.
3. **encode** the face bank: train the encoder on G_s's samples, map each photo to w, render G_t(w).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors.torch import load_file, save

from ...checkpoint import load_checkpoint
from ...imageio import atomic_write, to_tensor, to_uint8
from ..data.pairs import AlignedPairs
from ..teachers.base import Teacher
from ..visual import save_grid
from .adapt import CHECKPOINT as ADAPT_CHECKPOINT
from .adapt import AdaptConfig, adapt
from .encoder import CHECKPOINT as ENCODER_CHECKPOINT
from .encoder import EncoderConfig, train_encoder
from .frames import FrameMap
from .invert import project
from .targets import TRANSFER_BLUR, PhotoTargets, build_photo_targets

ANCHORS = "anchors.safetensors"


@dataclass(frozen=True)
class GPDSettings:
    """How long each teacher stage runs.

    Attributes:
        projection_steps: Adam steps of the anchors' projection.
        adapt: the adaptation's configuration.
        encoder: the encoder's configuration.
        refine_steps: projection steps refining each encoded photo (0: the encoder's guess).
        tone_transfer: share of what G_s(w) missed of each photo that goes into its target
            (``build_photo_targets``).
        transfer_blur: σ of the blur on what G_s(w) missed, a share of the teacher's resolution.
    """

    projection_steps: int = 300
    adapt: AdaptConfig = field(default_factory=lambda: AdaptConfig(correspondence_drop=0.9))
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    refine_steps: int = 0
    tone_transfer: float = 0.0
    transfer_blur: float = TRANSFER_BLUR


class Reporter(Protocol):
    """Where the stages say what they do: the command line shows it, a benchmark need not."""

    def stage(self, name: str, detail: str) -> None: ...

    def note(self, text: str) -> None: ...

    def steps(self, total: int) -> Any:
        """A context manager yielding ``update(step, info)`` for a progress display."""


class SilentReporter:
    def stage(self, name: str, detail: str) -> None:
        pass

    def note(self, text: str) -> None:
        pass

    @contextmanager
    def steps(self, total: int) -> Iterator[Callable[[int, Any], None]]:
        yield lambda step, info: None


def gpd_teacher_data(
    teacher: Teacher,
    anchors: AlignedPairs,
    shots: bool,
    photos: np.ndarray,
    frame: FrameMap,
    settings: GPDSettings,
    run_dir: str | Path,
    reporter: Reporter | None = None,
    encoder_dir: str | Path | None = None,
) -> tuple[AlignedPairs, PhotoTargets]:
    """Run project → adapt → encode; return the student's anchor pairs and the face bank's teacher targets.

    Every stage keeps its result in ``run_dir`` (anchors, adapted generator, encoder), so a second call
    continues where the first stopped.

    Args:
        teacher: G_s.
        anchors: exemplar pairs in the style's frame (sources: real photos with ``--pairs``; with ``--shots``
            they are replaced by G_s(w_i)).
        shots: the anchors are stylized exemplars without photos.
        photos: ``N S S 3`` uint8 face-bank photos in the style's frame.
        frame: the style frame ↔ teacher frame map.
        settings: stage lengths.
        run_dir: where every stage's result goes.
        reporter: progress (silent when None).
        encoder_dir: where the encoder is trained and kept (``run_dir`` when None). It depends on G_s alone,
            so runs with the same teacher may share one.
    """
    reporter = reporter or SilentReporter()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    crops = [anchors.crops(i) for i in range(len(anchors))]
    targets = _teacher_frame(frame, np.stack([y for _, y in crops]))
    projected = targets if shots else _teacher_frame(frame, np.stack([x for x, _ in crops]))
    what = "exemplar(s)" if shots else "source photo(s)"
    reporter.stage("project", f"{len(anchors)} {what} into {teacher.name}, {settings.projection_steps} steps")
    latents = _anchor_latents(teacher, projected, settings.projection_steps, run_dir, reporter)
    if shots:
        anchors = _projected_anchors(teacher, latents, anchors, frame)

    reporter.stage("adapt", f"the teacher to the {len(anchors)} target(s), up to {settings.adapt.steps} steps")
    with reporter.steps(settings.adapt.steps) as update:
        adapted = adapt(
            teacher, targets, latents, settings.adapt, run_dir,
            resume=(run_dir / ADAPT_CHECKPOINT).is_file(),  # a finished or interrupted adaptation is continued
            on_step=lambda step, losses: update(step, losses),
        )  # fmt: skip
    state = load_checkpoint(run_dir / ADAPT_CHECKPOINT, "adaptation checkpoint")
    if state.get("best_step"):
        stopped = f"stopped at step {state['stopped_at']}" if state.get("stopped_at") else "ran every step"
        best = f"kept step {state['best_step']}, the best correspondence (ratio {state['best_ratio']:.2f})"
        reporter.note(f"{stopped}; {best}")

    reporter.stage("encode", f"{len(photos)} photos into {teacher.name}'s latent space")
    encoder_dir = Path(encoder_dir or run_dir)
    with reporter.steps(settings.encoder.steps) as update:
        encoder = train_encoder(
            teacher, settings.encoder, encoder_dir, resume=(encoder_dir / ENCODER_CHECKPOINT).is_file(),
            on_step=lambda step, losses: update(step, losses),
        )  # fmt: skip
    data = build_photo_targets(
        teacher, adapted, encoder, photos, latents, frame, refine_steps=settings.refine_steps,
        tone_transfer=settings.tone_transfer, transfer_blur=settings.transfer_blur,
    )  # fmt: skip
    error, confidence = float(data.errors.median()), float(data.confidence.mean())
    reporter.note(f"reconstruction error median {error:.3f}, confidence mean {confidence:.2f}")
    _targets_grid(run_dir / "encode.png", data)
    return anchors, data


def shared_encoder_dir(home: str | Path, teacher: Teacher, config: EncoderConfig) -> Path:
    """Where the encoder for ``teacher`` trained with ``config`` is kept for every run that uses them.

    The encoder is trained on G_s's own samples only, so it depends on nothing else; the folder is named
    by a digest of the teacher's weights and the configuration (a retrained teacher gets a new one).
    """
    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return Path(home) / "encoders" / f"{teacher.name}-{digest.hexdigest()[:16]}"


def _teacher_frame(frame: FrameMap, images: np.ndarray) -> torch.Tensor:
    return torch.stack([to_tensor(x) for x in frame.to_teacher(images)])


def _anchor_latents(teacher: Teacher, images: torch.Tensor, steps: int, run_dir: Path, reporter) -> torch.Tensor:
    """The anchors' latents, projected once and kept in the run folder."""
    path = run_dir / ANCHORS
    if path.is_file():
        reporter.note("kept from the earlier run")
        return load_file(str(path))["latents"]
    with reporter.steps(steps) as update:
        result = project(teacher, images, steps=steps, on_step=update)
    save_grid(run_dir / "project.png", [list(to_uint8(images)), list(to_uint8(result.reconstructions.float()))])
    tensors = {"latents": result.latents.cpu().contiguous(), "errors": result.errors.cpu().contiguous()}
    atomic_write(path, lambda f: f.write(save(tensors)))
    reporter.note(f"reconstruction error {float(result.errors.mean()):.3f}")
    return result.latents.cpu()


@torch.no_grad()
def _projected_anchors(teacher: Teacher, latents: torch.Tensor, anchors: AlignedPairs, frame: FrameMap):
    """Anchor pairs whose sources are G_s(w_i) in the style's frame, beside the aligned exemplars."""
    drawn = np.stack(to_uint8(teacher.synthesis(latents.to(teacher.device)).float()))
    sources = frame.to_style(drawn)
    targets = [anchors.crops(i)[1] for i in range(len(anchors))]
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    return AlignedPairs(list(anchors.names), list(sources), targets, [identity] * len(targets), anchors.crop_size)


def _targets_grid(path: Path, data: PhotoTargets, count: int = 8) -> None:
    """Face-bank photos above their teacher targets (most confident first is not chosen: evenly spaced)."""
    picks = np.linspace(0, len(data) - 1, min(count, len(data))).round().astype(int)
    photos = [data.photos[i].permute(1, 2, 0).numpy() for i in picks]
    targets = [data.targets[i].permute(1, 2, 0).numpy() for i in picks]
    save_grid(path, [photos, targets], tile=96)
