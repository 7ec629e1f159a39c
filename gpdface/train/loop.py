"""What every training loop here shares: the step loop with its cadence of sample grids and checkpoints,
checkpoints that hold the parts of a run (models, optimisers, random generators) by name, the learning-rate
schedule, the moving average of the weights and the re-measurement of batch statistics.

Pretraining a teacher, adapting it and distilling a student each differ in what one step does; they share
when things are written (every ``n`` steps and always at the last one, so a finished run has everything) and
how a run is saved and resumed (atomically, bit-identically). Written once here, used by all three.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checkpoint import load_checkpoint
from ..errors import WeightsError
from ..imageio import atomic_write
from .progress import due

StepValues = dict[str, float]


@dataclass(frozen=True)
class Part:
    """One thing a checkpoint saves and restores: how to read its state and how to put it back."""

    get: Callable[[], Any]
    put: Callable[[Any], Any]


def module_part(obj: Any) -> Part:
    """A model, optimiser, scheduler or anything else with ``state_dict`` / ``load_state_dict``."""
    return Part(obj.state_dict, obj.load_state_dict)


def generator_part(generator: torch.Generator) -> Part:
    """A torch random generator (its state is a byte tensor)."""
    return Part(generator.get_state, generator.set_state)


def numpy_rng_part(rng: np.random.Generator) -> Part:
    """A numpy random generator (its state is kept as JSON text: plain data that ``weights_only`` loads)."""

    def put(text: str) -> None:
        rng.bit_generator.state = json.loads(text)

    return Part(lambda: json.dumps(rng.bit_generator.state), put)


def save_training_state(path: Path, step: int, parts: Mapping[str, Part], **extra: Any) -> None:
    """Write every part's state, the step, torch's global random state and ``extra`` plain values atomically."""
    state = {name: part.get() for name, part in parts.items()}
    state |= {"step": step, "torch_rng": torch.get_rng_state(), "saved_at": time.time(), **extra}
    atomic_write(path, lambda f: torch.save(state, f))


def load_training_state(path: Path, what: str, parts: Mapping[str, Part]) -> dict[str, Any]:
    """Restore every part from ``path`` (read with ``weights_only``); return the whole saved dict.

    Raises:
        WeightsError: the file cannot be read or lacks a part (a checkpoint of another kind of run).
    """
    state = load_checkpoint(path, what)
    missing = sorted(set(parts) - set(state))
    if missing:
        raise WeightsError(f"the {what} {path} has no {', '.join(missing)}: it was written by another kind of run")
    for name, part in parts.items():
        part.put(state[name])
    if "torch_rng" in state:  # absent in adaptation checkpoints written before this module
        torch.set_rng_state(state["torch_rng"])
    return state


@dataclass(frozen=True)
class Cadence:
    """How long a run is and how often it writes sample grids and checkpoints (0: only at the end)."""

    steps: int
    sample_every: int
    checkpoint_every: int


def run_steps(
    start: int,
    cadence: Cadence,
    step: Callable[[int], StepValues],
    write_samples: Callable[[int], None],
    save: Callable[[int, bool], None],
    on_step: Callable[[int, StepValues], None] | None = None,
    should_stop: Callable[[int, StepValues], bool] | None = None,
) -> int:
    """Run steps ``start`` … ``cadence.steps - 1``; return the number of steps done when it ended.

    Args:
        start: the first step (a resumed run's saved step).
        cadence: the run's length and how often samples and checkpoints are written.
        step: does step ``i`` (0-based); returns its loss values.
        write_samples: writes the sample grid after ``done`` steps.
        save: writes the checkpoint after ``done`` steps; its flag says whether the run stops there.
        on_step: called after every step with (steps done, loss values): progress display; a resumed run
            first calls it with (``start``, {}) so its progress begins at the checkpoint.
        should_stop: asked after every step (after ``on_step``); True ends the run early, with its samples
            and checkpoint written at that step.
    """
    done = start
    if on_step is not None and start > 0:  # a resumed run's progress starts where the checkpoint left it
        on_step(start, {})
    for index in range(start, cadence.steps):
        values = step(index)
        done = index + 1
        if on_step is not None:
            on_step(done, values)
        stop = should_stop is not None and should_stop(done, values)
        if stop or due(done, cadence.sample_every, cadence.steps):
            write_samples(done)
        if stop or due(done, cadence.checkpoint_every, cadence.steps):
            save(done, stop)
        if stop:
            break
    return done


def cosine_with_warmup(step: int, total: int, warmup: int = 0) -> float:
    """The learning rate's factor at ``step`` of ``total``: a linear warm-up over ``warmup`` steps, then a
    cosine decay to 5 % of the rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def ema_update(average: torch.nn.Module, live: torch.nn.Module, step: int, decay: float, buffers: bool) -> None:
    """Move ``average``'s parameters towards ``live``'s; the decay is warmed up over the first steps (early
    weights are noise) and ``buffers`` copies the buffers as they are (batch statistics)."""
    beta = min(decay, (1 + step) / (10 + step))
    for mean, current in zip(average.parameters(), live.parameters(), strict=True):
        mean.lerp_(current, 1 - beta)
    if buffers:
        for mean, current in zip(average.buffers(), live.buffers(), strict=True):
            mean.copy_(current)


@torch.no_grad()
def recalibrate_batchnorm(model: torch.nn.Module, inputs: Callable[[], torch.Tensor], count: int) -> torch.nn.Module:
    """Re-measure ``model``'s batch statistics as a plain mean over ``count`` batches from ``inputs()`` (what
    it will be given); returned in eval mode. A moving average of weights has other activations than the
    live weights whose running statistics it carries; without batch norm the model is returned as it is."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model.eval()
    device = next(model.parameters()).device
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    model.train()
    for _ in range(count):
        model(inputs().to(device))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()
