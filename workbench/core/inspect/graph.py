"""The dataflow graph of a network as it computes: every call of a leaf module and every tensor function
its containers call between them (the residual ``add``, the inception and dense ``cat``, FractalNet's
``stack``/``mean`` join, the SE gate's ``mul``, a ``flatten``) is a node, wired to the nodes that made its
inputs.

One implementation for the whole zoo, by eager capture: forward hooks on the leaf modules and a
``TorchFunctionMode`` for what runs between them, on one real forward pass. torchvision's fx tracer would
do for 43 of the 46 models, but not for the ones whose stem branches on the input's size (LeNet-5, AlexNet
2012: "Proxy object cannot be iterated"), and it traces GoogLeNet's auxiliary heads differently in
training and evaluation; a capture records what the network did, in evaluation mode.

The graph can be replayed (``Graph.replay``): each node is called again on the outputs of its input nodes,
which checks that the graph is the computation (the registry test replays every model to its logits).
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from .hooks import eval_mode, first_tensor

__all__ = ["Graph", "Node", "MERGES", "capture"]

MERGES = {"add": "add", "radd": "add", "iadd": "add", "cat": "cat", "concat": "cat", "stack": "stack",
          "mean": "mean", "mul": "mul", "rmul": "mul", "imul": "mul", "sum": "sum"}
"""Tensor functions that join branches when they take more than one computed tensor, by the name the node
gets (``+``, ``+=``, ``add_`` and ``torch.add`` are all ``add``)."""

RESHAPES = frozenset({"view", "reshape", "flatten", "contiguous", "squeeze", "unsqueeze", "permute", "transpose",
                      "__getitem__", "chunk", "split", "narrow", "expand", "expand_as", "clone", "detach"})
"""Tensor functions that move values without computing new ones: nodes the explorer may fold away."""


@dataclass
class Node:
    index: int
    name: str
    """The module's path (``layer1.0.conv1``; a second call of one module gets ``#2``), or the function's
    place: ``layer1.0:add`` is an ``add`` that ``layer1.0``'s forward computed."""
    op: str
    """The module's class (``Conv2d``) or the function (``add``, ``cat``, ``relu``, ``flatten``)."""
    kind: str
    """``input``, ``module``, ``merge`` (a join of branches), ``reshape`` or ``function``."""
    inputs: list[int]
    shape: tuple[int, ...] | None
    """The output's shape without the batch dimension."""
    params: int = 0
    macs: int = 0
    module: str = ""
    """The module path the node belongs to (a function node: the container whose forward called it)."""
    _call: Any = field(default=None, repr=False)
    _args: Any = field(default=None, repr=False)
    _kwargs: Any = field(default=None, repr=False)


@dataclass
class Graph:
    model: str
    nodes: list[Node]
    output: int
    """The node whose tensor the network returned (the logits)."""
    did_not_run: list[str] = field(default_factory=list)
    """Modules with parameters that took no part in this forward pass (auxiliary heads in evaluation)."""
    result: Any = field(default=None, repr=False)
    """What the network returned in the captured pass."""
    module_macs: dict[str, int] = field(default_factory=dict)
    """Multiply-adds of every module, containers included (``""`` is the whole network)."""

    def merges(self, op: str | None = None) -> list[Node]:
        return [n for n in self.nodes if n.kind == "merge" and (op is None or n.op == op)]

    def count(self, op: str) -> int:
        return sum(1 for n in self.nodes if n.op == op)

    def consumers(self, index: int) -> list[int]:
        return [n.index for n in self.nodes if index in n.inputs]

    def replay(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the network again node by node from ``x``: each node called on its inputs' outputs."""
        values: dict[int, Any] = {}
        for node in self.nodes:
            if node.kind == "input":
                values[node.index] = x
                continue
            args = _fill(node._args, values)
            kwargs = _fill(node._kwargs, values)
            values[node.index] = node._call(*args, **kwargs)
        return values[self.output]


class _Ref:
    """Where an argument's tensor came from, in a recorded call."""

    __slots__ = ("index", "item")

    def __init__(self, index: int, item: int | None = None):
        self.index, self.item = index, item


def _fill(structure, values: dict[int, Any]):
    if isinstance(structure, _Ref):
        value = values[structure.index]
        return value if structure.item is None else value[structure.item]
    if isinstance(structure, (list, tuple)):
        filled = [_fill(item, values) for item in structure]
        return filled if isinstance(structure, list) else tuple(filled)
    if isinstance(structure, dict):
        return {k: _fill(v, values) for k, v in structure.items()}
    return structure


class _Capture(TorchFunctionMode):
    def __init__(self, keep: Callable[[torch.Tensor], Any] | None, tap=None):
        super().__init__()
        self.keep, self.tap = keep, tap
        self.nodes: list[Node] = []
        self.producer: dict[int, tuple[int, int | None]] = {}  # id(tensor) → (node, item of a tuple output)
        self.kept: dict[int, Any] = {}
        self.depth = 0  # inside a leaf module: its own functions are part of it
        self.stack: list[str] = [""]  # the containers whose forward is running
        self.calls: dict[str, int] = {}
        self.pending = None
        self.busy = False

    # -- recording ------------------------------------------------------------------------------
    def _ref(self, value):
        if isinstance(value, torch.Tensor):
            where = self.producer.get(id(value))
            return _Ref(*where) if where is not None else value  # a constant made inside forward
        if isinstance(value, (list, tuple)):
            items = [self._ref(v) for v in value]
            return items if isinstance(value, list) else tuple(items)
        if isinstance(value, dict):
            return {k: self._ref(v) for k, v in value.items()}
        return value

    @staticmethod
    def _sources(structure) -> list[int]:
        found: list[int] = []
        stack = [structure]
        while stack:
            item = stack.pop()
            if isinstance(item, _Ref):
                found.append(item.index)
            elif isinstance(item, (list, tuple)):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                stack.extend(item.values())
        return list(dict.fromkeys(found))

    def add(self, name: str, op: str, kind: str, call, args, kwargs, output, module: str = "", params: int = 0):
        refs, krefs = self._ref(args), self._ref(kwargs)
        tensor = first_tensor(output)
        node = Node(len(self.nodes), name, op, kind, self._sources([refs, krefs]),
                    tuple(tensor.shape[1:]) if tensor is not None else None, params, module=module,
                    _call=call, _args=refs, _kwargs=krefs)
        self.nodes.append(node)
        if isinstance(output, torch.Tensor):
            self._produced(output, (node.index, None))
        elif isinstance(output, (tuple, list)):
            for i, item in enumerate(output):
                if isinstance(item, torch.Tensor):
                    self._produced(item, (node.index, i))
        if self.keep is not None and tensor is not None:
            self.kept[node.index] = self.keep(tensor)
        return node

    def _produced(self, tensor: torch.Tensor, where: tuple[int, int | None]) -> None:
        """Remember who made ``tensor`` for as long as it lives: the entry goes with the tensor, so a later
        tensor at the same address is never taken for it, and the pass keeps no more alive than a plain one."""
        key = id(tensor)
        if key not in self.producer:
            weakref.finalize(tensor, self.producer.pop, key, None)
        self.producer[key] = where

    def _tapped(self, node: Node, output):
        """What ``tap`` makes of a node's output; a replacement counts as made by the node."""
        new = self.tap(node, output)
        tensor = first_tensor(new)
        if new is not output and tensor is not None:
            self._produced(tensor, (node.index, None))
        return new

    def input(self, x: torch.Tensor) -> None:
        self.add("input", "input", "input", None, (), {}, x)

    # -- modules ------------------------------------------------------------------------------------
    def pre(self, name: str, leaf: bool):
        def hook(module, args, kwargs):
            if leaf:
                if self.depth == 0:
                    self.pending = (module, args, kwargs)
                self.depth += 1
            elif self.depth == 0:
                self.stack.append(name)
            return None
        return hook

    def post(self, name: str, leaf: bool):
        def hook(module, args, kwargs, output):
            if not leaf:
                if self.depth == 0 and self.stack[-1] == name:
                    self.stack.pop()
                return None
            self.depth -= 1
            if self.depth:
                return None
            module, args, kwargs = self.pending
            n = self.calls.get(name, 0) + 1
            self.calls[name] = n
            self.busy = True  # what the hook itself computes is not the network's
            try:
                node = self.add(name if n == 1 else f"{name}#{n}", type(module).__name__, "module", module, args,
                                kwargs, output, module=name,
                                params=sum(p.numel() for p in module.parameters()) if n == 1 else 0)
                return self._tapped(node, output) if self.tap is not None else None
            finally:
                self.busy = False
        return hook

    # -- functions between modules ------------------------------------------------------------------
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth or self.busy or not _produces_tensor(out):
            return out
        name = getattr(func, "__name__", str(func))
        if name in ("__get__", "__set__", "size", "dim", "numel"):
            return out
        inputs = self._sources([self._ref(args), self._ref(kwargs)])
        if not inputs:  # a tensor made from nothing the network computed (a constant, a mask)
            return out
        base = name.strip("_")  # __iadd__, add_ → iadd, add
        kind = "merge" if base in MERGES and len(inputs) > 1 else "reshape" if name in RESHAPES else "function"
        op = MERGES.get(base, base)
        where = self.stack[-1]
        count = self.calls.get(f"{where}:{op}", 0) + 1
        self.calls[f"{where}:{op}"] = count
        label = f"{where}:{op}" if where else op
        self.busy = True
        try:
            node = self.add(label if count == 1 else f"{label}#{count}", op, kind, func, args, kwargs, out, module=where)
            return self._tapped(node, out) if self.tap is not None else out
        finally:
            self.busy = False


def _produces_tensor(out) -> bool:
    return isinstance(out, torch.Tensor) or (isinstance(out, (tuple, list)) and any(
        isinstance(o, torch.Tensor) for o in out))


def capture(model: nn.Module, x: torch.Tensor, keep: Callable[[torch.Tensor], Any] | None = None,
            macs: bool = True, tap: Callable[[Node, Any], Any] | None = None) -> tuple[Graph, dict[int, Any]]:
    """The graph of ``model`` on the batch ``x`` (evaluation mode, no gradients), and ``keep(tensor)`` of
    every node's output (a detached clone for feature maps, a shape; nothing when ``keep`` is ``None``).
    ``macs``: count each module's multiply-adds (torch's flop counter, which slows the pass). ``tap(node, output)``
    sees each node's output as it is made and returns what the network goes on with (attribution's taps)."""
    leaves = {name for name, m in model.named_modules() if name and next(m.children(), None) is None}
    recorder = _Capture(keep, tap)
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue
        leaf = name in leaves
        handles.append(module.register_forward_pre_hook(recorder.pre(name, leaf), with_kwargs=True))
        handles.append(module.register_forward_hook(recorder.post(name, leaf), with_kwargs=True))
    counter = FlopCounterMode(display=False) if macs else contextlib.nullcontext()
    try:
        with eval_mode(model), torch.no_grad(), counter:
            recorder.input(x)
            with recorder:
                out = model(x)
    finally:
        for handle in handles:
            handle.remove()
    counted: dict[str, int] = {}
    for key, ops in (counter.get_flop_counts().items() if macs else ()):
        path = key.split(".", 1)[1] if "." in key else ""  # "<RootClass>.<path>"; flops are 2 × multiply-adds
        counted[path] = max(counted.get(path, 0), int(sum(ops.values())) // 2)
    for node in recorder.nodes:
        if node.kind == "module" and "#" not in node.name:
            node.macs = counted.get(node.name, 0)
    ran = {n.module for n in recorder.nodes if n.kind == "module"}
    did_not_run = [name for name, m in model.named_modules() if name and name in leaves and name not in ran
                   and any(True for _ in m.parameters())]
    tensor = first_tensor(out)
    output = recorder.producer[id(tensor)][0]
    graph = Graph(getattr(model, "model_name", type(model).__name__), recorder.nodes, output,
                  _outermost(did_not_run, ran), out, counted)
    return graph, recorder.kept


def _outermost(idle: list[str], ran: set[str]) -> list[str]:
    """The outermost module paths under which nothing ran (``aux1``, not each of ``aux1.conv.conv``...)."""
    out = []
    for name in idle:
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            prefix = ".".join(parts[:depth])
            if not any(r == prefix or r.startswith(prefix + ".") for r in ran):
                if prefix not in out:
                    out.append(prefix)
                break
    return out
