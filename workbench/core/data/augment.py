"""Augmentation presets that work on whole batches on the training device.

Each image of a batch gets its own random flip, crop, zoom and rotation, all expressed as one
2×3 affine matrix per image and applied in a single ``grid_sample`` call (the same maths as
torchvision's affine transforms, but with per-image parameters: a ``transforms.v2`` transform
called on a batch draws one set of parameters for the whole batch). Colour jitter draws its
factors per image as well. Validation and test batches are never augmented.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["PRESETS", "BatchAugment", "describe"]

from .choices import PRESETS  # noqa: E402 - torch-free, for the form and --help


def describe(name: str) -> str:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"Unknown augmentation {name!r}; choose from {', '.join(PRESETS)}") from None


class BatchAugment(nn.Module):
    """``augment(x)`` for a float batch ``N×C×H×W`` in [0, 1]; the identity in eval mode."""

    def __init__(self, preset: str = "none"):
        super().__init__()
        describe(preset)
        self.preset = preset

    def extra_repr(self) -> str:
        return self.preset

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not self.training or self.preset == "none":
            return x
        n, _, h, w = x.shape
        # Parameters are drawn on the CPU (seeded runs repeat on any device), applied on x's device.
        rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
        if self.preset == "color_jitter":
            return _jitter(_flip(x, (rand(n) < 0.5).to(x.device)), lambda k: rand(k).to(x))
        scale = torch.ones(n)
        angle = torch.zeros(n)
        shift = torch.zeros(n, 2)
        flip = torch.zeros(n, dtype=torch.bool)
        if self.preset == "flip_crop":
            flip = rand(n) < 0.5
            scale = 0.875 + 0.125 * rand(n)
            shift = (rand(n, 2) * 2 - 1) * (1 - scale).unsqueeze(1)  # stays inside the image
        elif self.preset == "pokemon":
            scale = torch.full((n,), 1 / 1.25)
            angle = (rand(n) * 2 - 1) * math.radians(15)
        elif self.preset == "cifar":
            flip = rand(n) < 0.5
            pixels = torch.floor(rand(n, 2) * 9) - 4  # -4 … 4 whole pixels, as pad-4 + crop
            shift = pixels * 2 / torch.tensor([w, h])
        cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
        sign = torch.where(flip, -1.0, 1.0)
        theta = torch.stack([torch.stack([cos * sign, -sin, shift[:, 0]], 1),
                             torch.stack([sin * sign, cos, shift[:, 1]], 1)], 1).to(x)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        mode = "nearest" if self.preset == "cifar" else "bilinear"  # whole-pixel shifts stay exact
        return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def _flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(-1), x)


def _jitter(x: torch.Tensor, rand) -> torch.Tensor:
    n = x.shape[0]
    factor = lambda: (0.6 + 0.8 * rand(n)).view(-1, 1, 1, 1)  # noqa: E731
    x = (x * factor()).clamp(0, 1)  # brightness
    grey = x.mean(1, keepdim=True) if x.shape[1] != 3 else (
        0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    mean = grey.mean((2, 3), keepdim=True)
    x = (mean + (x - mean) * factor()).clamp(0, 1)  # contrast
    if x.shape[1] == 3:
        grey = 0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
        x = (grey + (x - grey) * factor()).clamp(0, 1)  # saturation
    return x
