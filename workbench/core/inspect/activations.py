"""Feature maps: a module's output for one image, its statistics, and the tiles the window shows them in.

Everything a map view needs is computed here, off the UI thread and without Qt: per-channel
statistics (mean, max, share of zeros, dead channels), an order by index or by strength, pages of
channels, and the mosaic of one page, scaled per channel or on one scale shared by the layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .hooks import record

__all__ = ["ChannelStats", "Mosaic", "as_maps", "channel_order", "channel_stats", "feature_maps", "grid_shape",
           "layer_maps", "page_count", "tile_maps", "tile_page", "upsample_to"]


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


@dataclass(frozen=True)
class ChannelStats:
    """One layer's maps channel by channel (each a ``channels`` tensor) and as a whole."""

    mean: torch.Tensor
    max: torch.Tensor
    min: torch.Tensor
    zeros: torch.Tensor
    """The share of each channel's values that are exactly zero (a ReLU's silenced units)."""
    strength: torch.Tensor
    """Mean absolute value: what "ordered by strength" sorts by."""

    @property
    def dead(self) -> torch.Tensor:
        """Channels that are zero everywhere for this image (a ReLU channel that never fired)."""
        return self.zeros >= 1.0

    @property
    def flat(self) -> torch.Tensor:
        """Channels with one value everywhere (dead ones included): a tile with nothing to show."""
        return self.max == self.min

    def layer(self) -> dict[str, float]:
        """The whole layer's mean, min, max, share of zeros and count of dead channels."""
        return {"mean": float(self.mean.mean()), "min": float(self.min.min()), "max": float(self.max.max()),
                "zeros": float(self.zeros.mean()), "dead": int(self.dead.sum())}


def channel_stats(maps: torch.Tensor) -> ChannelStats:
    """Per-channel statistics of ``channels×h×w`` maps."""
    flat = maps.reshape(maps.shape[0], -1).float()
    return ChannelStats(flat.mean(1), flat.amax(1), flat.amin(1), (flat == 0).float().mean(1), flat.abs().mean(1))


def channel_order(stats: ChannelStats, by: str = "index") -> list[int]:
    """Channel indices by index, or by ``strength`` (strongest first; ties by index)."""
    count = len(stats.mean)
    if by == "index":
        return list(range(count))
    if by == "strength":
        return torch.sort(stats.strength, descending=True, stable=True).indices.tolist()
    raise ValueError(f"order by index or strength, not {by!r}")


def page_count(count: int, per_page: int) -> int:
    return max(1, -(-count // max(1, per_page)))


def grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid with at least ``count`` cells."""
    cols = max(1, int(count**0.5 + 0.999999))
    return (count + cols - 1) // cols, cols


@dataclass(frozen=True)
class Mosaic:
    """One page of tiles: the image (``H×W``), the channels in reading order, the grid, and the value range
    its colours span (``(0, 1)`` when each tile is scaled on its own)."""

    image: torch.Tensor
    channels: list[int]
    grid: tuple[int, int]
    tile: tuple[int, int]
    levels: tuple[float, float]
    shared: bool
    padding: int

    def channel_at(self, x: float, y: float) -> int | None:
        """The channel whose tile holds the mosaic's pixel ``(x, y)`` (column, row), or ``None``."""
        h, w = self.tile
        row, col = int(y // (h + self.padding)), int(x // (w + self.padding))
        if x < 0 or y < 0 or col >= self.grid[1] or row >= self.grid[0]:
            return None
        index = row * self.grid[1] + col
        return self.channels[index] if index < len(self.channels) else None

    def origin(self, position: int) -> tuple[int, int]:
        """The top-left pixel (column, row) of the ``position``-th tile of the page."""
        h, w = self.tile
        row, col = divmod(position, self.grid[1])
        return self.padding + col * (w + self.padding), self.padding + row * (h + self.padding)


def tile_page(maps: torch.Tensor, channels: list[int] | None = None, shared: bool = False,
              padding: int = 1) -> Mosaic:
    """``channels`` of ``maps`` (``channels×h×w``; all by default) as one mosaic. Per channel (``shared``
    false) each tile spans its own min → max in [0, 1]; shared, every tile keeps its values and the levels
    are the page's range (symmetric about zero when it holds negatives, as a BatchNorm's maps do). A flat
    tile is drawn mid-scale, padding at the bottom of the scale."""
    channels = list(range(maps.shape[0])) if channels is None else list(channels)
    chosen = maps[channels].float() if channels else maps[:0].float()
    count, h, w = chosen.shape
    rows, cols = grid_shape(max(1, count))
    if shared:
        lo, hi = (float(chosen.min()), float(chosen.max())) if count else (0.0, 1.0)
        if lo < 0 < hi:
            lo, hi = -max(-lo, hi), max(-lo, hi)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        tiles, levels = chosen, (lo, hi)
    else:
        flat = chosen.reshape(count, -1)
        lo, hi = flat.amin(1).view(-1, 1, 1), flat.amax(1).view(-1, 1, 1)
        span = (hi - lo)
        tiles = torch.where(span > 0, (chosen - lo) / span.clamp_min(1e-12), torch.full_like(chosen, 0.5))
        levels = (0.0, 1.0)
    image = torch.full((padding + rows * (h + padding), padding + cols * (w + padding)), levels[0])
    for position in range(count):
        row, col = divmod(position, cols)
        top, left = padding + row * (h + padding), padding + col * (w + padding)
        image[top:top + h, left:left + w] = tiles[position]
    return Mosaic(image, channels, (rows, cols), (h, w), levels, shared, padding)


def tile_maps(maps: torch.Tensor, padding: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """Every channel as one mosaic (``H×W`` in [0, 1]), each tile scaled on its own."""
    mosaic = tile_page(maps, None, False, padding)
    return mosaic.image, mosaic.grid


def upsample_to(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``channels×h×w`` maps resized (bilinear) to ``size``: a channel laid over the input image."""
    return F.interpolate(maps.unsqueeze(0).float(), size=size, mode="bilinear", align_corners=False)[0]
