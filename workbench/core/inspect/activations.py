"""Feature maps: a module's output for one image, and the tiles the window shows them in."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.utils import make_grid

from .hooks import record

__all__ = ["as_maps", "feature_maps", "grid_shape", "layer_maps", "tile_maps"]


def as_maps(output: torch.Tensor) -> torch.Tensor:
    """One image's recorded output as ``channels×h×w``; a flat ``F`` comes back as ``F×1×1``."""
    out = output.detach().float().cpu()
    if out.dim() == 1:
        out = out.view(-1, 1, 1)
    elif out.dim() == 2:
        out = out.unsqueeze(0)
    return out


def layer_maps(model: nn.Module, network_input: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
    """The maps of several layers for one preprocessed image (``C×H×W``), from one forward pass."""
    outputs = record(model, network_input.unsqueeze(0), layers)
    missing = [name for name in layers if name not in outputs]
    if missing:
        raise ValueError(f"Layer {missing[0]!r} did not run for this input")
    return {name: as_maps(outputs[name][0]) for name in layers}


def feature_maps(model: nn.Module, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Activations of ``layer`` for one preprocessed image (``C×H×W``), as ``channels×h×w``."""
    return layer_maps(model, image, [layer])[layer]


def grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid with at least ``count`` cells."""
    cols = max(1, int(count**0.5 + 0.999999))
    return (count + cols - 1) // cols, cols


def tile_maps(maps: torch.Tensor, padding: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """One grey mosaic (``H×W`` in [0, 1]) with one tile a channel, each scaled on its own."""
    rows, cols = grid_shape(maps.shape[0])
    grid = make_grid(maps.unsqueeze(1), nrow=cols, padding=padding, normalize=True, scale_each=True, pad_value=0.0)
    return grid[0], (rows, cols)
