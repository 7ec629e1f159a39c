"""An optional perceptual (VGG-16 feature) loss, used only when its ImageNet weights are already local.

gpdface never downloads them: the file ``vgg16-397923af.pth`` (torchvision's) is looked for in torch's
hub cache (``$TORCH_HOME/hub/checkpoints``) and in ``GPDFACE_WEIGHTS_PATH``, and read with
``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

VGG16_FILE = "vgg16-397923af.pth"
_TAPS = (3, 8, 15)  # relu1_2, relu2_2, relu3_3
_MEAN = (0.485, 0.456, 0.406)
_STD = (0.229, 0.224, 0.225)


def find_vgg16_weights() -> Path | None:
    folders = [Path(torch.hub.get_dir()) / "checkpoints"]
    folders += [Path(p) for p in os.environ.get("GPDFACE_WEIGHTS_PATH", "").split(os.pathsep) if p]
    return next((f / VGG16_FILE for f in folders if (f / VGG16_FILE).is_file()), None)


class PerceptualLoss(nn.Module):
    """Mean L1 distance of VGG-16 features (relu1_2, relu2_2, relu3_3) of images in [-1, 1]."""

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        from torchvision.models import vgg16

        model = vgg16()
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
        self.features = model.features[: _TAPS[-1] + 1].eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1))

    @classmethod
    def if_available(cls) -> PerceptualLoss | None:
        path = find_vgg16_weights()
        return cls(path) if path is not None else None

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = ((output + 1) / 2 - self.mean) / self.std
        y = ((target + 1) / 2 - self.mean) / self.std
        total = torch.zeros((), device=output.device)
        for index, layer in enumerate(self.features):
            x, y = layer(x), layer(y)
            if index in _TAPS:
                total = total + F.l1_loss(x, y.detach())
        return total / len(_TAPS)
