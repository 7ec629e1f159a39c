"""Where a translate run writes, decided for every input before anything is written.

A result is written to ``<stem>_<style><suffix>`` beside its input, to ``-o FILE`` or into ``-o DIR``; with
``--output crop`` or ``both`` each face also goes to ``<stem>_face<N><suffix>`` beside it, N unknown until
its faces are found. Planning all of them first means one run can neither replace one of its own inputs
(``p.jpg`` → ``p_sketch.jpg`` while ``p_sketch.jpg`` is an input too) nor write one file twice
(``x.jpg``'s crop ``x_face0.jpg`` and the input ``x_face0.jpg``'s result): such a run is refused whole.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import UsageError
from .formats import VIDEO_SUFFIXES

OUTPUT_MODES = ("paste", "crop", "both")
_CROP_NAME = re.compile(r"(?P<stem>.+)_face\d+")


def output_path(source: Path, out_arg: Path | None, many: bool, style_name: str) -> Path:
    """Where the result for ``source`` goes: the ``-o`` file, into the ``-o`` folder, or beside the input."""
    if out_arg is None:
        return source.with_name(f"{source.stem}_{style_name}{source.suffix}")
    if many or out_arg.is_dir() or not out_arg.suffix:
        return out_arg / source.name
    return out_arg


def crop_path(target: Path, index: int) -> Path:
    """The file of a result's ``index``-th face crop, beside the result's own path."""
    return target.with_name(f"{target.stem}_face{index}{target.suffix}")


@dataclass(frozen=True)
class PlannedOutput:
    """One input and what its result writes: the photo (or video) at ``target``, and/or face crops beside it."""

    source: Path
    target: Path
    photo: bool
    crops: bool


def _key(path: Path) -> Path:
    return path.expanduser().resolve()


def _crop_family(path: Path) -> tuple[Path, str, str] | None:
    """``(folder, stem, suffix)`` when ``path`` is named like a face crop ``<stem>_face<N><suffix>``."""
    match = _CROP_NAME.fullmatch(path.stem)
    if match is None:
        return None
    return path.parent, match["stem"], path.suffix.lower()


def plan_outputs(sources: list[Path], out_arg: Path | None, style_name: str, mode: str) -> list[PlannedOutput]:
    """Each input's outputs, checked against every input and every other output of the run.

    Args:
        sources: the run's inputs, in order (distinct files).
        out_arg: ``-o``: a file (one input) or a folder; None for beside each input.
        style_name: a validated style name (``gpdface.names``).
        mode: ``paste``, ``crop`` or ``both`` (videos always write the video alone).

    Raises:
        UsageError: an output would replace another input of the run, or two outputs would be one file.
    """
    many = len(sources) > 1
    plans = []
    for source in sources:
        target = output_path(source, out_arg, many, style_name)
        video = source.suffix.lower() in VIDEO_SUFFIXES
        plans.append(PlannedOutput(source, target, photo=video or mode != "crop", crops=not video and mode != "paste"))

    inputs = {_key(p.source): p.source for p in plans}
    photos: dict[Path, PlannedOutput] = {}
    crop_families: dict[tuple[Path, str, str], PlannedOutput] = {}
    for plan in plans:
        target = _key(plan.target)
        if plan.photo:
            other = photos.setdefault(target, plan)
            if other is not plan:
                raise UsageError(
                    f"{other.source} and {plan.source} would both be written to {plan.target}; "
                    "translate them into different output folders"
                )
            source = inputs.get(target)
            if source is not None and _key(source) != _key(plan.source):
                raise UsageError(
                    f"the result for {plan.source} would replace {source}, another input of this run; "
                    "write the results elsewhere with -o DIR"
                )
        if plan.crops:
            family = (target.parent, target.stem, target.suffix.lower())
            other = crop_families.setdefault(family, plan)
            if other is not plan:
                raise UsageError(
                    f"the face crops of {other.source} and of {plan.source} would have the same names; "
                    "translate them into different output folders"
                )

    def crop_owner(path: Path) -> PlannedOutput | None:
        """The plan whose face crops would be named like ``path``, if any."""
        family = _crop_family(path)
        return crop_families.get(family) if family else None

    for path, source in inputs.items():
        if (owner := crop_owner(path)) is not None:
            raise UsageError(
                f"a face crop of {owner.source} would replace {source}, another input of this run; "
                "write the results elsewhere with -o DIR"
            )
    for target, plan in photos.items():
        if (owner := crop_owner(target)) is not None and owner is not plan:
            raise UsageError(
                f"a face crop of {owner.source} and the result for {plan.source} would both be {plan.target}; "
                "translate them into different output folders"
            )
    return plans
