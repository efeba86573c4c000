"""A convolution computed step by step, on the user's own model and image: for one output value of a
convolution (or a pooling layer), the input patch of every input channel that feeds it — stride, padding,
dilation and groups taken into account —, the kernel, the element-wise products, their sum and the bias; then
the batch norm and activation that follow it, each step ending at the value the network itself computed.

``record_layer(model, x, layer)`` runs the network once and keeps what the layer was given and gave (and the
outputs of the element-wise layers right after it); ``step_at(recording, channel, row, col)`` does the
arithmetic for any output value of it without running the network again, so a sweep across the output is
cheap. Works for ``nn.Conv2d`` (any stride, padding, dilation, groups), ``nn.MaxPool2d``, ``nn.AvgPool2d``,
and LeNet-5's partial convolution (C3's connection table) and trainable subsampling."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .hooks import eval_mode

__all__ = ["ConvStep", "Step", "LayerRecording", "record_layer", "step_at", "steppable", "steppable_leaf", "ELEMENTWISE"]

ELEMENTWISE = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Hardswish,
               nn.Hardtanh, nn.Identity)
"""Layers applied value by value: the step after a convolution can show them on the one value."""


def _lenet():
    from models.lenet import PartialConv2d, ScaledTanh, Subsampling

    return PartialConv2d, ScaledTanh, Subsampling


def steppable(module: nn.Module) -> bool:
    partial, _, subsampling = _lenet()
    return isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, partial, subsampling)) and \
        not (isinstance(module, nn.Conv2d) and module.padding_mode != "zeros")


@dataclass
class Step:
    name: str
    """The layer's name in the model."""
    what: str
    """The arithmetic in words and numbers."""
    value: float
    recorded: float


@dataclass
class ConvStep:
    layer: str
    kind: str
    """``convolution``, ``max pooling``, ``average pooling`` or ``subsampling``."""
    channel: int
    row: int
    col: int
    inputs: list[int]
    """The input channels that feed this output channel."""
    rows: list[int]
    cols: list[int]
    """The input rows and columns the patch reads (outside ``0…H−1`` is padding)."""
    patch: torch.Tensor
    """``len(inputs)×kh×kw``: the input values (0 in the padding; −inf for max pooling)."""
    kernel: torch.Tensor | None
    products: torch.Tensor | None
    total: float
    """The sum of the products (a convolution), the largest value (max pooling), the sum (average, subsampling)."""
    bias: float
    value: float
    """What the arithmetic gives for the layer's output."""
    recorded: float
    """What the network computed there."""
    steps: list[Step] = field(default_factory=list)
    in_size: tuple[int, int] = (0, 0)
    """The input map's height and width (a patch row or column outside it is padding)."""
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    @property
    def final(self) -> float:
        return self.steps[-1].value if self.steps else self.value


@dataclass
class LayerRecording:
    name: str
    module: nn.Module
    input: torch.Tensor
    """``C×H×W``: what the layer was given."""
    output: torch.Tensor
    """``C×h×w``: what it gave."""
    after: list[tuple[str, nn.Module, torch.Tensor]]
    """The element-wise layers (batch norm, activations) applied right after it, each with its output."""


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (int(v), int(v))


@torch.no_grad()
def record_layer(model: nn.Module, x: torch.Tensor, layer: str) -> LayerRecording:
    """One forward pass of ``x`` (``1×C×H×W``, prepared) keeping ``layer``'s input and output and the outputs of
    the batch norm and element-wise layers that take its output next."""
    module = model.get_submodule(layer)
    if not steppable(module):
        raise ValueError(f"{layer} is a {type(module).__name__}: step by step works for convolutions and pooling")
    _, scaled_tanh, _ = _lenet()
    names = {m: n for n, m in model.named_modules()}
    kept: dict = {}
    chain: list = []
    live: list = []  # the tensor the chain follows, held so its id is never reused

    def hook(mod, args, out):
        if not args or not isinstance(args[0], torch.Tensor) or not isinstance(out, torch.Tensor):
            return
        if mod is module and "output" not in kept:
            kept["input"], kept["output"] = args[0][0].detach().clone(), out[0].detach().clone()
            live[:] = [out]
        elif live and args[0] is live[0] and isinstance(mod, ELEMENTWISE + (nn.BatchNorm2d, scaled_tanh)) \
                and out.shape == args[0].shape:
            if not isinstance(mod, nn.Identity):  # followed, not shown
                chain.append((names.get(mod, type(mod).__name__), mod, out[0].detach().clone()))
            live[:] = [out]
    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with eval_mode(model):
            model(x)
    finally:
        for h in handles:
            h.remove()
    if "output" not in kept:
        raise ValueError(f"{layer} did not run for this input")
    return LayerRecording(layer, module, kept["input"], kept["output"], chain)


def _window(size: int, start: int, k: int, d: int) -> list[int]:
    return [start + i * d for i in range(k)]


def _gather(inp: torch.Tensor, channels: list[int], rows: list[int], cols: list[int], fill: float) -> torch.Tensor:
    H, W = inp.shape[1:]
    out = torch.full((len(channels), len(rows), len(cols)), fill, dtype=torch.float64)
    for a, r in enumerate(rows):
        for b, c in enumerate(cols):
            if 0 <= r < H and 0 <= c < W:
                out[:, a, b] = inp[channels, r, c].double()
    return out


def step_at(rec: LayerRecording, channel: int, row: int, col: int) -> ConvStep:
    """The arithmetic of output value ``(channel, row, col)`` of the recorded layer, then of the layers after it."""
    C, h, w = rec.output.shape
    if not (0 <= channel < C and 0 <= row < h and 0 <= col < w):
        raise ValueError(f"({channel}, {row}, {col}) is outside {rec.name}'s output of {C}×{h}×{w}")
    m = rec.module
    partial, _, subsampling = _lenet()
    recorded = float(rec.output[channel, row, col])
    if isinstance(m, (nn.Conv2d, partial)):
        if isinstance(m, nn.Conv2d):
            (kh, kw), s, p, d = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation)
            per_group = m.in_channels // m.groups
            group = channel // (m.out_channels // m.groups)
            inputs = list(range(group * per_group, (group + 1) * per_group))
            kernel = m.weight[channel].detach().double().cpu()
            bias = float(m.bias[channel].detach()) if m.bias is not None else 0.0
            groups = m.groups
        else:  # LeNet-5's C3: this map reads the input maps of its row of the connection table
            kh = kw = m.kernel_size
            s, p, d, groups = (1, 1), (0, 0), (1, 1), 1
            inputs = list(m.connections[channel])
            start = sum(len(c) for c in m.connections[:channel])
            kernel = m.weight[start:start + len(inputs)].detach().double().cpu()
            bias = float(m.bias[channel].detach())
        rows = _window(h, row * s[0] - p[0], kh, d[0])
        cols = _window(w, col * s[1] - p[1], kw, d[1])
        patch = _gather(rec.input.cpu(), inputs, rows, cols, 0.0)
        products = patch * kernel
        total = float(products.sum())
        result = ConvStep(rec.name, "convolution", channel, row, col, inputs, rows, cols, patch, kernel, products,
                          total, bias, total + bias, recorded, stride=s, padding=p, dilation=d, groups=groups)
    else:
        if isinstance(m, subsampling):
            (kh, kw), s, p, d = (2, 2), (2, 2), (0, 0), (1, 1)
        else:
            (kh, kw), s, p = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
            d = _pair(getattr(m, "dilation", 1))
        rows = _window(h, row * s[0] - p[0], kh, d[0])
        cols = _window(w, col * s[1] - p[1], kw, d[1])
        is_max = isinstance(m, nn.MaxPool2d)
        patch = _gather(rec.input.cpu(), [channel], rows, cols, float("-inf") if is_max else 0.0)
        if is_max:
            total, bias, value, kind = float(patch.max()), 0.0, float(patch.max()), "max pooling"
        elif isinstance(m, subsampling):  # the sum of the 2×2, times the map's coefficient, plus its bias
            total = float(patch.sum())
            coefficient, bias = float(m.weight[channel].detach()), float(m.bias[channel].detach())
            value, kind = total * coefficient + bias, "subsampling"
        else:
            inside = sum(1 for r in rows for c in cols if 0 <= r < rec.input.shape[1] and 0 <= c < rec.input.shape[2])
            count = kh * kw if m.count_include_pad or not p[0] and not p[1] else inside
            if m.divisor_override:
                count = m.divisor_override
            total, bias, value, kind = float(patch.sum()), 0.0, float(patch.sum()) / count, "average pooling"
        result = ConvStep(rec.name, kind, channel, row, col, [channel], rows, cols, patch, None, None, total, bias,
                          value, recorded, stride=s, padding=p, dilation=d)
    result.in_size = tuple(rec.input.shape[1:])
    v = result.value
    for name, module, out in rec.after:
        v, what = _elementwise(module, v, channel)
        result.steps.append(Step(name, what, v, float(out[channel, row, col])))
    return result


def _elementwise(module: nn.Module, v: float, channel: int) -> tuple[float, str]:
    if isinstance(module, nn.BatchNorm2d):
        mean, var = float(module.running_mean[channel]), float(module.running_var[channel].detach())
        g = float(module.weight[channel].detach()) if module.weight is not None else 1.0
        b = float(module.bias[channel].detach()) if module.bias is not None else 0.0
        out = (v - mean) / (var + module.eps) ** 0.5 * g + b
        return out, f"batch norm: ({v:.4g} − {mean:.4g}) / √({var:.4g} + {module.eps:g}) × {g:.4g} + {b:.4g} = {out:.4g}"
    out = float(module(torch.tensor([[[[v]]]], dtype=torch.float64)).flatten()[0])
    return out, f"{type(module).__name__}({v:.4g}) = {out:.4g}"


def steppable_leaf(model: nn.Module, layer: str) -> str | None:
    """The layer itself when it is a convolution or a pooling layer; for a block, the last such layer inside it
    (its output is what the block's last element-wise steps start from); ``None`` when it has none."""
    module = model.get_submodule(layer)
    if steppable(module):
        return layer
    inner = [f"{layer}.{name}" for name, m in module.named_modules() if name and steppable(m)]
    return inner[-1] if inner else None
