"""A convolution's kernels as images: what the filter view draws, computed without Qt.

``convolutions(model)`` names every ``Conv2d``; ``filters_of`` reads one's weights with each output
filter's norm, and ``filter_page`` lays a page of them out: the first layer of an RGB network in colour
(each kernel's three input channels as red, green and blue, about mid-grey for zero), any other as one
tile per filter of one input channel (or of the norm over all of them), on one scale symmetric about
zero. A 1×1 convolution has no spatial kernel: it is the ``out × in`` matrix of its weights. LeNet-5's
C3, whose maps each see only some inputs, shows its connection table: the kernels it lacks are zero."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .activations import grid_shape

__all__ = ["FilterSet", "convolutions", "filter_page", "filters_of", "is_convolution", "weight_histogram"]


def _partial(module: nn.Module) -> bool:
    """A convolution with a connection table (``models.lenet.PartialConv2d``): one kernel per connection."""
    return hasattr(module, "connections") and getattr(module, "weight", None) is not None and module.weight.dim() == 3


def is_convolution(module: nn.Module) -> bool:
    return isinstance(module, nn.Conv2d) or _partial(module)


def convolutions(model: nn.Module) -> list[str]:
    """The dotted names of the model's 2-D convolutions, in definition order."""
    return [name for name, module in model.named_modules() if is_convolution(module)]


def _dense(module: nn.Module, weight: torch.Tensor | None = None) -> torch.Tensor:
    """A connection-table convolution's kernels (``weight``: its own by default) as ``out × in × k × k``, zero
    where a map does not see an input."""
    weight = module.weight if weight is None else weight
    k = weight.shape[-1]
    dense = torch.zeros(len(module.connections), module.in_channels, k, k)
    row = 0
    for out, ins in enumerate(module.connections):
        for i in ins:
            dense[out, i] = weight[row].detach().float().cpu()
            row += 1
    return dense


@dataclass(frozen=True)
class FilterSet:
    layer: str
    weight: torch.Tensor
    """``out × in/groups × kh × kw``, float, on the CPU."""
    groups: int
    rgb: bool
    """The layer sees the image's three colour channels: its kernels draw in colour."""
    initial: torch.Tensor | None = None
    """The same kernels when the run started (epoch 0), when the run kept them."""
    note: str = ""
    """Why the kernels at the start are missing, when they should be there."""

    @property
    def norms(self) -> torch.Tensor:
        """Each output filter's L2 norm."""
        return self.weight.flatten(1).norm(dim=1)

    def order(self, by: str = "index") -> list[int]:
        if by == "index":
            return list(range(self.weight.shape[0]))
        if by == "norm":
            return torch.sort(self.norms, descending=True, stable=True).indices.tolist()
        raise ValueError(f"order by index or norm, not {by!r}")

    @property
    def pointwise(self) -> bool:
        return tuple(self.weight.shape[2:]) == (1, 1)


def filters_of(model: nn.Module, layer: str, in_channels: int | None = None,
               initial: dict[str, torch.Tensor] | None = None) -> FilterSet:
    """The kernels of ``layer`` (a ``Conv2d``); ``rgb`` when it is fed the 3-channel image itself; with the
    run's kernels at its start when ``initial`` (``checkpointing.load_initial_filters``) holds them."""
    module = dict(model.named_modules()).get(layer)
    if module is None or not is_convolution(module):
        raise ValueError(f"{layer} is not a convolution: it has no kernels to show")
    weight = _dense(module) if _partial(module) else module.weight.detach().float().cpu().clone()
    groups = getattr(module, "groups", 1)
    first = convolutions(model)[:1] == [layer]
    rgb = first and weight.shape[1] == 3 and groups == 1 and (in_channels in (None, 3))
    start = (initial or {}).get(layer)
    if start is not None:
        start = _dense(module, start) if _partial(module) else start.detach().float().cpu()
        start = start if start.shape == weight.shape else None  # from another model: not these kernels
    return FilterSet(layer, weight, groups, rgb, start)


def filter_page(filters: FilterSet, indices: list[int], input_channel: int | None = None,
                padding: int = 1, initial: bool = False,
                scale: float | None = None) -> tuple[np.ndarray, tuple[int, int], float]:
    """A page of kernels as one image (``H×W×3`` in [0, 1] for colour, else ``H×W`` of the weights
    themselves), its grid, and the scale ``s`` (colours span ``-s..s``). ``input_channel``: which input's
    kernel each tile shows for a non-colour layer (``None``: the norm over the inputs, 0..s). A 1×1
    convolution gives its ``out × in`` matrix, rows in ``indices`` order. ``initial``: the kernels at the
    run's start instead; ``scale``: a scale given (to draw two pages alike) rather than the page's own."""
    w = (filters.initial if initial else filters.weight)[indices]
    if filters.pointwise:
        matrix = w[:, :, 0, 0].numpy()
        return matrix, (len(indices), matrix.shape[1]), scale or float(np.abs(matrix).max() or 1.0)
    out, _, kh, kw = w.shape
    rows, cols = grid_shape(max(1, out))
    if filters.rgb:
        scale = scale or float(w.abs().max() or 1.0)
        tiles = (w / (2 * scale) + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()  # out × kh × kw × 3
        image = np.ones((padding + rows * (kh + padding), padding + cols * (kw + padding), 3), dtype=np.float32)
    else:
        tiles = (w.norm(dim=1) if input_channel is None else w[:, input_channel]).numpy()
        scale = scale or float(np.abs(tiles).max() or 1.0)
        image = np.zeros((padding + rows * (kh + padding), padding + cols * (kw + padding)), dtype=np.float32)
    for position in range(out):
        row, col = divmod(position, cols)
        top, left = padding + row * (kh + padding), padding + col * (kw + padding)
        image[top:top + kh, left:left + kw] = tiles[position]
    return image, (rows, cols), scale


def weight_histogram(weight: torch.Tensor, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges of every weight of a layer."""
    return np.histogram(weight.flatten().numpy(), bins=bins)
