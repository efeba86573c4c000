"""Knock-outs and branch shares: test a claim such as "this skip connection matters" on the network itself.

A knock-out switches off one channel of a layer's output, or one incoming branch of a merge (a residual
block's branch or its skip connection at the ``add``, one branch of an inception module's ``cat``), and
computes the network again. It works on the dataflow graph (``graph.capture``): the graph is replayed node by
node (``Graph.replay``'s way) with that one value replaced by zeros, so it needs nothing of each family.

Branch shares, at a merge, say how much each incoming branch makes of the output: its share of the magnitude
(each branch's L1 norm over their sum; for a ``cat``, exactly its part of the output), and its share of the
class evidence, gradient × activation: ``Σ ∂score/∂b · b`` for branch ``b`` (Simonyan et al. 2013; Shrikumar
et al. 2016), so a learner sees how much a residual block adds to its identity path."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import nn

from .graph import Graph, Node, _fill, capture
from .hooks import eval_mode, first_tensor

__all__ = ["Branch", "BranchShares", "KnockOut", "accuracy_with", "branch_shares", "branches", "graph_for",
           "knock_out", "replay"]


@dataclass(frozen=True)
class KnockOut:
    """What to switch off: ``channel`` of ``node``'s output, or ``branch`` (an index into the node's inputs) of
    a merge ``node``."""

    node: str
    channel: int | None = None
    branch: int | None = None

    def words(self, graph: Graph | None = None) -> str:
        if self.channel is not None:
            return f"channel {self.channel} of {self.node} switched off"
        if graph is not None and self.branch is not None:
            found = {b.index: b for b in branches(graph, self.node)}
            if self.branch in found:
                return f"{found[self.branch].words} of {self.node} switched off"
        return f"input {self.branch} of {self.node} switched off"


@dataclass(frozen=True)
class Branch:
    index: int
    """Its place among the merge's inputs."""
    node: str
    """The graph node that made it."""
    words: str
    """"the residual branch (layer1.0.bn2)", "the skip connection (maxpool)", "branch 2 (inception3a.branch2)"."""


_GRAPHS: "weakref.WeakKeyDictionary[nn.Module, dict]" = weakref.WeakKeyDictionary()


def graph_for(model: nn.Module, shape: tuple[int, ...]) -> Graph:
    """The dataflow graph of ``model`` for a batch of ``shape`` (``N×C×H×W``), captured once and kept."""
    cache = _GRAPHS.setdefault(model, {})
    key = tuple(shape)
    if key not in cache:
        param = next(model.parameters(), None)
        x = torch.zeros(key, device=param.device if param is not None else "cpu")
        cache[key] = capture(model, x, macs=False)[0]
    return cache[key]


def _node(graph: Graph, name: str) -> Node:
    found = next((n for n in graph.nodes if n.name == name), None)
    if found is None:
        raise ValueError(f"{name} is not a node of {graph.model}'s graph")
    return found


def branches(graph: Graph, merge: str) -> list[Branch]:
    """The incoming branches of a merge, in words: at an ``add``, the input made inside the merge's own block is
    its residual branch and one from outside (or its ``downsample``) the skip connection."""
    node = _node(graph, merge)
    if node.kind != "merge":
        raise ValueError(f"{merge} is not a merge (an addition, concatenation or join of branches)")
    sources = [graph.nodes[j] for j in node.inputs]
    skips = [not (node.module and (s.module + ".").startswith(node.module + ".")) or
             any(part in s.module.split(".") for part in ("downsample", "shortcut", "skip")) for s in sources]
    residual = node.op == "add" and len(sources) == 2 and sum(skips) == 1  # one path through the block, one around
    out = []
    for i, (source, skip) in enumerate(zip(sources, skips)):
        if residual:
            words = f"the {'skip connection' if skip else 'residual branch'} ({source.name})"
        else:
            words = f"branch {i + 1} ({source.name})"
        out.append(Branch(i, source.name, words))
    return out


def replay(graph: Graph, x: torch.Tensor, knock: KnockOut | None = None) -> torch.Tensor:
    """The network's main output for ``x`` computed node by node, with ``knock`` applied; each value is let go
    after its last use, so it holds little more than a forward pass."""
    target = _node(graph, knock.node).index if knock is not None else -1
    if knock is not None and knock.branch is not None:
        merge = graph.nodes[target]
        if merge.kind != "merge" or not 0 <= knock.branch < len(merge.inputs):
            raise ValueError(f"{knock.node} has no input {knock.branch}")
    last = {}
    for node in graph.nodes:
        for i in node.inputs:
            last[i] = node.index
    values: dict[int, object] = {}
    for node in graph.nodes:
        if node.kind == "input":
            values[node.index] = x
            continue
        source = values
        if node.index == target and knock.branch is not None:
            dropped = graph.nodes[target].inputs[knock.branch]
            source = dict(values)
            source[dropped] = torch.zeros_like(first_tensor(values[dropped]))
        out = node._call(*_fill(node._args, source), **_fill(node._kwargs, source))
        if node.index == target and knock.channel is not None:
            tensor = first_tensor(out)
            if tensor is None or tensor.dim() < 2 or not 0 <= knock.channel < tensor.shape[1]:
                raise ValueError(f"{knock.node} has no channel {knock.channel}")
            out = tensor.clone()
            out[:, knock.channel] = 0
        values[node.index] = out
        for i in node.inputs:
            if last.get(i) == node.index and i != graph.output:
                values.pop(i, None)
    return first_tensor(values[graph.output])


@torch.no_grad()
def knock_out(model: nn.Module, x: torch.Tensor, knock: KnockOut | None) -> torch.Tensor:
    """Class probabilities (``N×classes``) of ``x`` with ``knock`` applied (``None``: as the network is)."""
    with eval_mode(model):
        logits = replay(graph_for(model, x.shape), x, knock) if knock is not None else first_tensor(model(x))
    return torch.softmax(logits.float(), 1)


@torch.no_grad()
def accuracy_with(model: nn.Module, batches, knock: KnockOut,
                  progress: Callable[[int, int], None] | None = None, total: int = 0) -> tuple[float, float, int]:
    """Accuracy over ``(images, labels)`` batches (images normalised) as the network is and with ``knock``:
    ``(with it on, with it off, images)``."""
    right_on = right_off = seen = 0
    with eval_mode(model):
        for images, labels in batches:
            on = first_tensor(model(images)).argmax(1)
            off = replay(graph_for(model, images.shape), images, knock).argmax(1)
            right_on += int((on.cpu() == labels).sum())
            right_off += int((off.cpu() == labels).sum())
            seen += len(labels)
            if progress is not None:
                progress(seen, total or seen)
    return right_on / max(1, seen), right_off / max(1, seen), seen


@dataclass
class BranchShares:
    merge: str
    op: str
    branches: list[Branch]
    maps: list[torch.Tensor]
    """Each branch's value for the image (``C×h×w``)."""
    magnitude: list[float]
    """Each branch's share of the output's magnitude (L1), summing to 1."""
    evidence: list[float]
    """Each branch's gradient × activation for the class, as a share of their sum of sizes (signed)."""
    target: int
    raw_evidence: list[float] = field(default_factory=list)


def branch_shares(model: nn.Module, x: torch.Tensor, merge: str, target: int) -> BranchShares:
    """Each incoming branch of ``merge`` for one image ``x`` (``1×C×H×W``): its maps, its share of the output's
    magnitude and of the evidence for class ``target``."""
    graph = graph_for(model, x[:1].shape)
    node = _node(graph, merge)
    found = branches(graph, merge)
    leaves: dict[int, torch.Tensor] = {}
    values: dict[int, object] = {}
    was = torch.is_grad_enabled()
    try:
        torch.set_grad_enabled(False)
        with eval_mode(model):
            for n in graph.nodes:
                if n.kind == "input":
                    values[n.index] = x[:1]
                    continue
                source = values
                if n.index == node.index:  # the branches become leaves: gradients stop at them
                    source = dict(values)
                    torch.set_grad_enabled(True)
                    for i in n.inputs:
                        leaves[i] = first_tensor(values[i]).detach().requires_grad_(True)
                        source[i] = leaves[i].clone()  # the merge may add into its first input in place
                values[n.index] = n._call(*_fill(n._args, source), **_fill(n._kwargs, source))
            score = first_tensor(values[graph.output])[0, target]
            grads = torch.autograd.grad(score, [leaves[i] for i in node.inputs], allow_unused=True)
    finally:
        torch.set_grad_enabled(was)
    tensors = [leaves[i].detach()[0].cpu() for i in node.inputs]
    sizes = [float(t.abs().sum()) for t in tensors]
    evidence = [0.0 if g is None else float((g[0].cpu() * t).sum()) for g, t in zip(grads, tensors)]
    scale = sum(abs(e) for e in evidence) or 1.0
    maps = [t.reshape(-1, 1, 1) if t.dim() == 1 else t for t in tensors]
    return BranchShares(merge, node.op, found, maps, [s / (sum(sizes) or 1.0) for s in sizes],
                        [e / scale for e in evidence], target, evidence)
