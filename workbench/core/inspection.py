"""Looking inside a network: per-layer summaries, feature maps and top-k predictions.

Works on any ``nn.Module`` through forward hooks, so residual, inception and dense blocks
need nothing special. Multiply-adds come from ``torch.utils.flop_counter``, not by hand.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.utils import make_grid

from .datasets import Preprocess, image_to_tensor

__all__ = ["LayerInfo", "ModelSummary", "summarize", "count_macs", "format_summary", "human_count", "feature_maps", "tile_maps", "Classifier"]


@dataclass
class LayerInfo:
    name: str
    """Dotted path from the model, e.g. ``layer1.0.conv1``."""
    type: str
    depth: int
    output_shape: tuple[int, ...] | None
    """Without the batch dimension; ``None`` when the layer did not run for this input."""
    params: int
    """All parameters below this module."""
    macs: int
    """Multiply-adds for one image, this module and all below it."""
    is_leaf: bool


@dataclass
class ModelSummary:
    model: str
    input_shape: tuple[int, int, int]
    layers: list[LayerInfo]
    total_params: int
    trainable_params: int
    total_macs: int
    stem_info: str = ""
    notes: list[str] = field(default_factory=list)

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise KeyError(name)


def _first_tensor(output):
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            found = _first_tensor(item)
            if found is not None:
                return found
    if isinstance(output, dict):
        return _first_tensor(list(output.values()))
    return None


@contextmanager
def _eval_mode(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def summarize(model: nn.Module, input_shape: tuple[int, int, int], device: str | torch.device = "cpu") -> ModelSummary:
    """Run one image of ``input_shape`` through ``model`` in eval mode and record each layer."""
    shapes: dict[str, tuple[int, ...]] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(mod, args, output, name=name):
            tensor = _first_tensor(output)
            if tensor is not None and name not in shapes:
                shapes[name] = tuple(tensor.shape[1:])

        handles.append(module.register_forward_hook(hook))
    counter = FlopCounterMode(display=False)
    try:
        with _eval_mode(model), torch.no_grad(), counter:
            model(torch.zeros(1, *input_shape, device=device))
    finally:
        for handle in handles:
            handle.remove()
    # The counter names modules "<RootClass>.<dotted path>"; flops are 2 × multiply-adds.
    macs: dict[str, int] = {}
    for key, ops in counter.get_flop_counts().items():
        path = key.split(".", 1)[1] if "." in key else ""
        macs[path] = max(macs.get(path, 0), int(sum(ops.values())) // 2)
    layers = []
    for name, module in model.named_modules():
        if not name:
            continue
        layers.append(LayerInfo(
            name=name,
            type=type(module).__name__,
            depth=name.count(".") + 1,
            output_shape=shapes.get(name),
            params=sum(p.numel() for p in module.parameters()),
            macs=macs.get(name, 0),
            is_leaf=next(module.children(), None) is None,
        ))
    return ModelSummary(
        model=getattr(model, "model_name", type(model).__name__),
        input_shape=tuple(input_shape),
        layers=layers,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_macs=int(counter.get_total_flops()) // 2,
        stem_info=getattr(model, "stem_info", ""),
    )


def count_macs(model: nn.Module, input_shape: tuple[int, int, int], device: str | torch.device = "cpu") -> int:
    """Multiply-adds of one forward pass of one image (eval mode, nothing recorded per layer)."""
    counter = FlopCounterMode(display=False)
    with _eval_mode(model), torch.no_grad(), counter:
        model(torch.zeros(1, *input_shape, device=device))
    return int(counter.get_total_flops()) // 2


def human_count(n: int) -> str:
    """1814073344 → '1.81G'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def format_summary(summary: ModelSummary, max_depth: int | None = None) -> str:
    """A per-layer table and the totals, for the terminal."""
    rows = [("Layer", "Type", "Output shape", "Params", "Mult-adds")]
    for info in summary.layers:
        if max_depth is not None and info.depth > max_depth:
            continue
        shape = "×".join(map(str, info.output_shape)) if info.output_shape else "-"
        # Nested layers show their last name, indented under their parent.
        label = "  " * (info.depth - 1) + info.name.rsplit(".", 1)[-1]
        rows.append((label, info.type, shape, f"{info.params:,}", f"{info.macs:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    line = lambda r: "  ".join(  # noqa: E731
        c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    rule = "-" * len(line(rows[0]))
    c, h, w = summary.input_shape
    out = [f"{summary.model}  input {c}x{h}x{w}", rule, line(rows[0]), rule, *map(line, rows[1:]), rule]
    out += [
        f"Total params: {summary.total_params:,}",
        f"Trainable params: {summary.trainable_params:,}",
        f"Total mult-adds: {summary.total_macs:,} ({human_count(summary.total_macs)})",
    ]
    if summary.stem_info:
        out.append(f"Stem: {summary.stem_info}")
    idle = [info for info in summary.layers if info.depth == 1 and info.output_shape is None and info.params]
    if idle:
        out.append(f"Not run at inference (training-only heads): {', '.join(i.name for i in idle)}, "
                   f"{sum(i.params for i in idle):,} params")
    return "\n".join(out)


def feature_maps(model: nn.Module, image: torch.Tensor, layer: str) -> torch.Tensor:
    """Activations of ``layer`` for one preprocessed image (``C×H×W``), as ``channels×h×w``.

    A flat output (a fully connected layer's ``F`` features) comes back as ``F×1×1``.
    """
    module = model.get_submodule(layer)
    captured: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda m, a, out: captured.append(_first_tensor(out)))
    try:
        with _eval_mode(model), torch.no_grad():
            model(image.unsqueeze(0))
    finally:
        handle.remove()
    if not captured or captured[0] is None:
        raise ValueError(f"Layer {layer!r} did not run for this input")
    out = captured[0][0].detach().float().cpu()
    if out.dim() == 1:
        out = out.view(-1, 1, 1)
    elif out.dim() == 2:
        out = out.unsqueeze(0)
    return out


def grid_shape(count: int) -> tuple[int, int]:
    """Rows and columns of a near-square grid with at least ``count`` cells."""
    cols = max(1, int(count**0.5 + 0.999999))
    return (count + cols - 1) // cols, cols


def tile_maps(maps: torch.Tensor, padding: int = 1) -> tuple[torch.Tensor, tuple[int, int]]:
    """One grey mosaic (``H×W`` in [0, 1]) with one tile a channel, each scaled on its own."""
    rows, cols = grid_shape(maps.shape[0])
    grid = make_grid(maps.unsqueeze(1), nrow=cols, padding=padding, normalize=True, scale_each=True, pad_value=0.0)
    return grid[0], (rows, cols)


class Classifier:
    """A model plus what it needs to classify any image: classes, preprocessing, input size."""

    def __init__(self, model: nn.Module, classes: list[str], input_shape: tuple[int, int, int],
                 native_size: tuple[int, int], mean, std, dark_background: bool = False, crop: bool = False):
        self.model = model
        self.classes = list(classes)
        self.input_shape = tuple(input_shape)
        self.native_size = tuple(native_size)
        self.dark_background = dark_background
        self.crop = crop
        self.preprocess = Preprocess(self.input_shape[1:], tuple(mean), tuple(std))

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def prepare(self, image: Image.Image | str | Path | torch.Tensor) -> torch.Tensor:
        """The network's input (``C×H×W``) for an image file, a PIL image or a [0, 1] tensor."""
        if not isinstance(image, torch.Tensor):
            image = image_to_tensor(image, self.input_shape[0], self.native_size, self.dark_background, self.crop)
        return self.preprocess.to(self.device)(image.unsqueeze(0).to(self.device))[0]

    @torch.no_grad()
    def probabilities(self, image) -> torch.Tensor:
        with _eval_mode(self.model):
            logits = _first_tensor(self.model(self.prepare(image).unsqueeze(0)))
        return torch.softmax(logits[0].float(), 0).cpu()

    def top_k(self, image, k: int = 3) -> list[tuple[str, float]]:
        probs = self.probabilities(image)
        values, indices = probs.topk(min(k, len(probs)))
        return [(self.classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]

    def feature_maps(self, image, layer: str) -> torch.Tensor:
        return feature_maps(self.model, self.prepare(image), layer)
