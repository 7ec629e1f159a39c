"""How a style is made: every default of ``gpdface finetune`` in one typed frozen record (no torch here).

The command line's flags, the demo's make-a-style tab, the benchmarks and ``examples/`` all start from
``FinetuneRecipe()`` and override what they are told to, so none of them can drift from what users run.
A recipe round-trips to JSON: every style records the one it was made with (``provenance.recipe`` in its
``style.json``), and ``gpdface finetune --recipe FILE`` takes one back (a recipe file, or a style's
``style.json``), flags overriding it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from .options import BACKGROUND_MODES, OptionError, at_least, one_of

Tone = Literal["follow", "ignore"]
StyleOutput = Literal["paste", "crop"]
TONES: tuple[str, ...] = get_args(Tone)
STYLE_OUTPUTS: tuple[str, ...] = get_args(StyleOutput)
# The student's loss terms (gpdface.train.student.objective and .distill check theirs against this list).
OBJECTIVE_TERMS = ("lowpass_l1", "ssim", "adversarial", "feature_matching")
TEACHER_TERMS = ("teacher", "relative")
FAITHFUL_TERMS = ("landmarks", "structure")  # on the face bank's whole photos (gpdface.train.student.faithful)
LOSS_TERMS = OBJECTIVE_TERMS + TEACHER_TERMS + FAITHFUL_TERMS
Augmentation = Literal["standard", "wide"]
AUGMENTATIONS: tuple[str, ...] = get_args(Augmentation)
DEFAULT_TEACHER = "lfw64"
AUTO_BACKGROUND = "student"  # what ``background="auto"`` becomes (FinetuneRecipe.background)
STYLE_BACKGROUNDS = ("auto", *BACKGROUND_MODES)


@dataclass(frozen=True)
class FinetuneRecipe:
    """Everything that decides what style ``finetune`` makes from given exemplars.

    Attributes:
        teacher: the teacher GAN (a manifest name, a pretrained teacher, a checkpoint path) or ``none``.
        steps: distillation steps (1000 over-inked real photos with --shots and --pairs: docs/making-a-style.md).
        adapt_steps: teacher adaptation steps.
        projection_steps: projection steps per exemplar batch.
        encoder_steps: steps of the encoder into the teacher's latents.
        photos_limit: at most this many photos of a ``--photos`` folder.
        batch_size: anchor pairs per step.
        lr: Adam learning rate of the student.
        seed: seeds adaptation, encoder and student.
        tone: ``follow`` (a darker face is drawn darker) or ``ignore`` (skin paper-white on everyone).
        background: how ``translate`` renders the photo around the faces; ``auto`` (the default): ``student``,
            the student drawing the whole photo, so the picture reads as one drawing in the exemplars' own
            look (grey exemplars: a grey picture) — not a drawn head pasted into the colour photo.
        default_output: what ``translate`` writes when not told: ``paste`` or ``crop``.
        crop_size: the style's aligned crop side, whatever the teacher's resolution.
        loss: term weights that replace the defaults (0 switches a term off), as ``(name, weight)`` pairs.
        augment: the exemplars' random geometry and colour: ``standard`` (roll ±5°, scale ±5 %) or ``wide``
            (roll ±20°, scale ±15 %, more colour), for heads that lean and light the exemplars never had.
        init: a style (name or folder) whose student training starts from, instead of random weights: a
            shipped style trained further. None: from scratch.
    """

    teacher: str = DEFAULT_TEACHER
    steps: int = 300
    adapt_steps: int = 300
    projection_steps: int = 300
    encoder_steps: int = 1500
    photos_limit: int = 2000
    batch_size: int = 8
    lr: float = 1e-3
    seed: int = 0
    tone: Tone = "follow"
    background: str = "auto"
    default_output: StyleOutput = "paste"
    crop_size: int = 256
    loss: tuple[tuple[str, float], ...] = ()
    augment: Augmentation = "standard"
    init: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.teacher, str) or not self.teacher:
            raise OptionError("teacher", "must name a teacher, or be 'none'")
        for name in ("steps", "adapt_steps", "projection_steps", "encoder_steps", "photos_limit", "batch_size"):
            at_least(name, getattr(self, name), 1)
        at_least("seed", self.seed, 0)
        at_least("lr", self.lr, 0, integer=False)
        if self.lr == 0:
            raise OptionError("lr", "must be a learning rate > 0")
        one_of("tone", self.tone, TONES)
        one_of("background", self.background, STYLE_BACKGROUNDS)
        one_of("default_output", self.default_output, STYLE_OUTPUTS)
        one_of("augment", self.augment, AUGMENTATIONS)
        if self.init is not None and (not isinstance(self.init, str) or not self.init):
            raise OptionError("init", f"must name a style or a style folder, not {self.init!r}")
        at_least("crop_size", self.crop_size, 16)
        if self.crop_size % 8:
            raise OptionError("crop_size", f"must be a multiple of 8, not {self.crop_size}")
        loss = tuple((str(name), weight) for name, weight in self.loss)
        for name, weight in loss:
            if name not in LOSS_TERMS:
                raise OptionError("loss", f"names an unknown term {name}; known: {', '.join(LOSS_TERMS)}")
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                raise OptionError("loss", f"weight of {name} must be a number, not {weight!r}")
            if weight < 0:
                raise OptionError("loss", f"weight of {name} must be ≥ 0, not {weight:g}")
        object.__setattr__(self, "loss", tuple(sorted(dict((n, float(w)) for n, w in loss).items())))

    @property
    def faithful(self) -> bool:
        """Whether a term that keeps the person on the face bank's photos is on (so the bank is needed)."""
        return any(self.loss_weights.get(name, 0.0) > 0 for name in FAITHFUL_TERMS)

    @property
    def loss_weights(self) -> dict[str, float]:
        """The overridden term weights as a dict."""
        return dict(self.loss)

    def override(self, **changes: Any) -> FinetuneRecipe:
        """A copy with every change that is not None; a ``loss`` mapping is merged into this recipe's."""
        given = {name: value for name, value in changes.items() if value is not None}
        unknown = sorted(set(given) - {f.name for f in fields(self)})
        if unknown:
            raise TypeError(f"not recipe fields: {', '.join(unknown)}")
        if "loss" in given:
            given["loss"] = tuple({**self.loss_weights, **dict(given["loss"])}.items())
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["loss"] = self.loss_weights
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str) -> FinetuneRecipe:
        """A recipe from its JSON form (fields left out keep their defaults).

        Raises:
            OptionError: not an object, an unknown field, or a bad value (named, with ``where``).
        """
        if not isinstance(data, Mapping):
            raise OptionError("recipe", f"{where}: expected a JSON object")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise OptionError("recipe", f"{where}: unknown field(s) {', '.join(unknown)}")
        values = dict(data)
        if "loss" in values:
            if not isinstance(values["loss"], Mapping):
                raise OptionError("recipe", f"{where}: loss must be an object of term weights")
            values["loss"] = tuple(values["loss"].items())
        try:
            return cls(**values)
        except OptionError as exc:
            raise OptionError("recipe", f"{where}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> FinetuneRecipe:
        """A recipe file, or a style's ``style.json`` (the recipe it records: to make a style again).

        Raises:
            OptionError: unreadable, or not a recipe.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError, RecursionError) as exc:
            raise OptionError("recipe", f"cannot read {path}: {str(exc)[:160]}") from None
        if isinstance(data, dict) and isinstance(data.get("provenance"), dict):
            if "recipe" not in data["provenance"]:
                raise OptionError("recipe", f"{path} is a style.json that records no recipe")
            data = data["provenance"]["recipe"]
        return cls.from_dict(data, str(path))


def parse_loss_items(items: list[str]) -> dict[str, float]:
    """``["adversarial=0", "lowpass_l1=5"]`` → ``{"adversarial": 0.0, "lowpass_l1": 5.0}`` (``--loss``).

    Raises:
        OptionError: an item that is not NAME=WEIGHT.
    """
    weights = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise OptionError("loss", f"{item!r}: expected NAME=WEIGHT, e.g. --loss adversarial=0")
    return weights
