"""Receptive fields of a unit: the *theoretical* one — every input pixel any path of the graph (branches and
skips included) connects to the unit, as size, stride and offset — and the *effective* one, the gradient of
the unit with respect to the image (Luo et al., 2016: most of the theoretical field hardly counts).

The theoretical field is found on a linear, all-positive copy of the network: every weight set to one over its
fan-in, biases to zero, batch norm and element-wise layers to the identity, max pooling to average pooling of
the same window. Then no path can cancel another or be switched off, and the input pixels with a non-zero
gradient are exactly those a path reaches — for any topology, without a formula per family."""

from __future__ import annotations

import copy

import torch
from torch import nn

from .conv_step import ELEMENTWISE
from .top_images import ReceptiveField, _output, field_of

__all__ = ["theoretical_field", "effective_field", "unit_box"]


def _linear_copy(model: nn.Module) -> nn.Module:
    from models.lenet import ScaledTanh

    twin = copy.deepcopy(model).double().eval()
    for name, module in list(twin.named_modules()):
        if not name:
            continue
        parent_name, _, attr = name.rpartition(".")
        parent = twin.get_submodule(parent_name) if parent_name else twin
        if isinstance(module, ELEMENTWISE + (ScaledTanh, nn.BatchNorm2d, nn.LocalResponseNorm, nn.Dropout)):
            setattr(parent, attr, nn.Identity())
        elif isinstance(module, nn.MaxPool2d):
            setattr(parent, attr, nn.AvgPool2d(module.kernel_size, module.stride, module.padding, module.ceil_mode))
    with torch.no_grad():
        for module in twin.modules():
            for pname, p in module.named_parameters(recurse=False):
                if pname == "bias":
                    p.zero_()
                elif p.dim() >= 1:
                    p.fill_(1.0 / max(1, p[0].numel()) if p.dim() > 1 else 1.0)
    return twin


def _support(grad: torch.Tensor | None) -> tuple[int, int, int, int] | None:
    """(top, left, bottom, right) of the non-zero gradient, inclusive; ``None`` when there is none."""
    if grad is None:
        return None
    seen = grad[0].abs().sum(0) > 0
    if not bool(seen.any()):
        return None
    rows, cols = seen.any(1).nonzero().flatten(), seen.any(0).nonzero().flatten()
    return int(rows[0]), int(cols[0]), int(rows[-1]), int(cols[-1])


def theoretical_field(model: nn.Module, input_shape: tuple[int, int, int], layer: str) -> ReceptiveField:
    """``layer``'s theoretical receptive field for inputs of ``input_shape`` (``C×H×W``): the support of the
    centre unit gives the size and offset, that of its neighbour the stride. Where the centre unit's field is
    cut by the border (a small input), the size is read from the centre outwards (``top_images.field_of``)."""
    twin = _linear_copy(model)
    H, W = input_shape[1:]
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        out = _output(twin, layer, x)
        if out.dim() < 4:
            return ReceptiveField((H, W), (float(H), float(W)), (0, 0))
        h, w = out.shape[2:]
        ci, cj = max(0, h // 2 - 1), max(0, w // 2 - 1)
        boxes = []
        for r, c in ((ci, cj), (min(h - 1, ci + 1), min(w - 1, cj + 1))):
            grad, = torch.autograd.grad(out[0, :, r, c].sum(), x, allow_unused=True, retain_graph=True)
            boxes.append(_support(grad))
    first, second = boxes
    if first is None:
        return ReceptiveField((H, W), (H / h, W / w), (0, 0))
    top, left, bottom, right = first
    cut = top == 0 or left == 0 or bottom == H - 1 or right == W - 1
    if cut or second is None or (h < 2 or w < 2):
        grad_seen = None
        with torch.enable_grad():
            grad, = torch.autograd.grad(out[0, :, h // 2, w // 2].sum(), x, allow_unused=True)
            grad_seen = grad[0].abs().sum(0) > 0 if grad is not None else None
        return field_of(grad_seen, (h, w), (H, W))
    stride = (float(second[0] - top) if h > 1 else float(H), float(second[1] - left) if w > 1 else float(W))
    size = (bottom - top + 1, right - left + 1)
    return ReceptiveField(size, stride, (int(top - ci * stride[0]), int(left - cj * stride[1])))


def effective_field(model: nn.Module, x: torch.Tensor, layer: str, channel: int, row: int, col: int) -> torch.Tensor:
    """``H×W``: how much each input pixel moves unit ``(channel, row, col)`` of ``layer`` for the image ``x``
    (``1×C×H×W``, prepared): the absolute gradient summed over the colour channels, scaled to [0, 1]."""
    from .hooks import eval_mode

    x = x.detach().clone().requires_grad_(True)
    with eval_mode(model), torch.enable_grad():
        out = _output(model, layer, x)
        grad, = torch.autograd.grad(out[0, channel, row, col], x, allow_unused=True)
    if grad is None:
        return torch.zeros(x.shape[2:])
    heat = grad[0].abs().sum(0)
    return heat / heat.max().clamp_min(1e-12)


def unit_box(field: ReceptiveField, row: int, col: int, height: int, width: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of unit ``(row, col)``'s theoretical field on the input, cut to the image."""
    return field.box(row, col, height, width, clip=True)
