"""One image through several architectures: for each network, its maps at every stage (``feature_info``) with
the shape there and the parameters and multiply-adds spent to reach it — LeNet-5 → VGG → ResNet on one screen,
as the tutorials draw the lineage.

Parameters and multiply-adds "so far" are those of the layers that finished before the stage did (each layer
once, in the order they ran), with multiply-adds per layer from ``summary.summarize`` (torch's flop counter)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .activations import as_maps
from .hooks import eval_mode, first_tensor
from .summary import summarize

MAX_CHANNELS = 16


@dataclass
class LineageStage:
    module: str
    shape: tuple[int, ...]
    """``C×H×W`` of the stage's output."""
    reduction: int
    params: int
    """Parameters of the layers that ran up to here."""
    macs: int
    """Multiply-adds of one image up to here."""
    maps: torch.Tensor
    """The first ``MAX_CHANNELS`` channels, ``c×h×w`` float on the CPU."""


@dataclass
class LineageColumn:
    title: str
    model: str
    input_shape: tuple[int, int, int]
    params: int
    macs: int
    stages: list[LineageStage] = field(default_factory=list)
    top: list[tuple[str, float]] = field(default_factory=list)
    note: str = ""


def stages_of(model: nn.Module) -> list[dict]:
    """The network's stages: ``feature_info`` (every zoo model has one)."""
    return list(getattr(model, "feature_info", []) or [])


@torch.no_grad()
def lineage_column(model: nn.Module, x: torch.Tensor, title: str, classes: list[str] | None = None) -> LineageColumn:
    """``x`` (``1×C×H×W``, normalised for ``model``) through ``model``, recorded at each stage in one pass."""
    summary = summarize(model, tuple(x.shape[1:]), x.device)
    macs = {info.name: info.macs for info in summary.layers}
    stages = stages_of(model)
    wanted = {s["module"] for s in stages}
    modules = dict(model.named_modules())
    leaves = {name for name, m in modules.items() if name and next(m.children(), None) is None}
    finished: list[str] = []  # leaves, in the order they first finished
    outputs: dict[str, tuple[torch.Tensor, int]] = {}  # stage → (output, leaves finished by then)

    def hook(name):
        def record(module, args, output):
            if name in leaves and name not in finished:
                finished.append(name)
            if name in wanted and name not in outputs:
                tensor = first_tensor(output)
                if tensor is not None:
                    outputs[name] = (tensor.detach(), len(finished))
        return record
    handles = [modules[name].register_forward_hook(hook(name)) for name in leaves | wanted]
    try:
        with eval_mode(model):
            logits = first_tensor(model(x))
    finally:
        for handle in handles:
            handle.remove()
    column = LineageColumn(title, getattr(model, "model_name", type(model).__name__), tuple(x.shape[1:]),
                           summary.total_params, summary.total_macs)
    for stage in stages:
        name = stage["module"]
        if name not in outputs:
            column.note = f"{name} did not run for this input"
            continue
        tensor, done = outputs[name]
        ran = finished[:done]
        column.stages.append(LineageStage(
            name, tuple(tensor.shape[1:]), int(stage.get("reduction", 0)),
            sum(p.numel() for leaf in ran for p in modules[leaf].parameters(recurse=False)),
            sum(macs.get(leaf, 0) for leaf in ran),
            as_maps(tensor[0])[:MAX_CHANNELS]))
    if classes:
        probs = torch.softmax(logits[0].float(), 0).cpu()
        values, indices = probs.topk(min(3, len(probs)))
        column.top = [(classes[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]
    return column
