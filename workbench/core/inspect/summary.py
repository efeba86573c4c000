"""A network's per-layer summary: output shapes (recorded by ``hooks.ActivationRecorder``),
parameters and multiply-adds (from ``torch.utils.flop_counter``, not by hand), and its dataflow graph
(``graph.capture``), all from one forward pass."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .hooks import ActivationRecorder, eval_mode

__all__ = ["LayerInfo", "ModelSummary", "summarize", "count_macs", "human_count"]


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
    graph: object | None = field(default=None, repr=False)
    """The ``graph.Graph`` of the same pass: the merges between the layers, in the order they ran."""
    notes: list[str] = field(default_factory=list)

    def layer(self, name: str) -> LayerInfo:
        for info in self.layers:
            if info.name == name:
                return info
        raise KeyError(name)


def summarize(model: nn.Module, input_shape: tuple[int, int, int], device: str | torch.device = "cpu") -> ModelSummary:
    """Run one image of ``input_shape`` through ``model`` in eval mode and record each layer."""
    from .graph import capture

    with ActivationRecorder(model, keep=lambda t: tuple(t.shape[1:])) as recorder:
        graph, _ = capture(model, torch.zeros(1, *input_shape, device=device))
    shapes: dict[str, tuple[int, ...]] = recorder.outputs  # type: ignore[assignment]
    macs = graph.module_macs
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
        total_macs=macs.get("", sum(n.macs for n in graph.nodes)),
        stem_info=getattr(model, "stem_info", ""),
        graph=graph,
    )


def count_macs(model: nn.Module, input_shape: tuple[int, int, int], device: str | torch.device = "cpu") -> int:
    """Multiply-adds of one forward pass of one image (eval mode, nothing recorded per layer)."""
    counter = FlopCounterMode(display=False)
    with eval_mode(model), torch.no_grad(), counter:
        model(torch.zeros(1, *input_shape, device=device))
    return int(counter.get_total_flops()) // 2


def human_count(n: int) -> str:
    """1814073344 → '1.81G'."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)
